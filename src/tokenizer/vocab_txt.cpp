// Reader of the official World vocab, rwkv_vocab_v20230424.txt. Each line is
//   <id> <python literal> <byte length>
// e.g. `33155 'Hello' 5` or `256 b'\xff' 1`. Tokens contain spaces, so the line is split on its
// first and last space. The official code eval()s the literal; we decode it (python_literal.h).
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/python_literal.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

namespace rwkv {
namespace {

// A decimal integer that must fill `field` exactly; nullopt otherwise (sign, space, overflow…).
std::optional<int64_t> parse_decimal(std::string_view field) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || field.front() == '-' || ec != std::errc() || end != field.data() + field.size())
    return std::nullopt;
  return v;
}

}  // namespace

Vocab parse_vocab_txt(std::string_view text, std::string source) {
  Vocab vocab;
  vocab.source = std::move(source);
  vocab.bytes.reserve(text.size());
  vocab.spans.reserve(kWorldVocabSize);
  std::vector<uint32_t> line_of_id;  // for naming the first line of a duplicate id
  std::string token;                 // reused buffer for one decoded literal

  size_t pos = 0;
  uint32_t line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    // Some copies of the file have CRLF line ends; a literal never holds a raw \r (repr escapes it).
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto fail = [&](const std::string& what) { return Error("{}:{}: {}", vocab.source, line_no, what); };
    if (line.empty()) throw fail("empty line (expected `<id> <python literal> <byte length>`)");

    const size_t first = line.find(' ');
    const size_t last = line.rfind(' ');
    if (first == std::string_view::npos || first == last)
      throw fail(fmt::format("expected `<id> <python literal> <byte length>`, got `{}` (truncated line?)", line));
    const std::string_view id_field = line.substr(0, first);
    const std::string_view literal = line.substr(first + 1, last - first - 1);
    const std::string_view length_field = line.substr(last + 1);

    const auto id = parse_decimal(id_field);
    if (!id) throw fail(fmt::format("the id `{}` is not a decimal number", id_field));
    if (*id == 0) throw fail("id 0 is reserved for end of document and cannot have text");
    if (*id > kMaxVocabId) throw fail(fmt::format("id {} is too large (at most {})", *id, kMaxVocabId));
    token.clear();
    try {
      append_python_literal(literal, token);
    } catch (const Error& e) {
      throw fail(e.what());
    }
    if (token.empty()) throw fail("empty token");
    const auto length = parse_decimal(length_field);
    if (!length) throw fail(fmt::format("the byte length `{}` is not a decimal number", length_field));
    if (static_cast<int64_t>(token.size()) != *length)
      throw fail(fmt::format("the length field says {} bytes but the literal is {} bytes", *length, token.size()));

    const auto i = static_cast<int32_t>(*id);
    if (vocab.has(i)) throw fail(fmt::format("duplicate id {} (first on line {})", i, line_of_id[i]));
    if (static_cast<size_t>(i) >= line_of_id.size()) line_of_id.resize(static_cast<size_t>(i) + 1);
    line_of_id[i] = line_no;
    vocab.add(i, token);
  }
  if (vocab.spans.empty()) throw Error("{}: the vocab file has no tokens", vocab.source);
  return vocab;
}

}  // namespace rwkv
