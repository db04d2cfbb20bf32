// Reader of the official World vocab, rwkv_vocab_v20230424.txt. Each line is
//   <id> <python literal> <byte length>
// e.g. `33155 'Hello' 5` or `256 b'\xff' 1`. Tokens contain spaces, so the line is split on its
// first and last space. The official code eval()s the literal; we decode it (python_literal.h).
#include <optional>
#include <string>
#include <utility>

#include "tokenizer/python_literal.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

namespace rwkv {
namespace {

// Fields longer than this are rejected, which keeps the value far from overflowing.
constexpr size_t kMaxDigits = 9;

// A decimal number that must fill `field` exactly; nullopt otherwise (sign, space, too long…).
// (Hand-written: std::from_chars took a tenth of the instructions of a whole load.)
std::optional<int64_t> parse_decimal(std::string_view field) {
  if (field.empty() || field.size() > kMaxDigits) return std::nullopt;
  int64_t v = 0;
  for (const char c : field) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

Vocab parse_vocab_txt(std::string_view text, std::string source) {
  Vocab vocab;
  vocab.source = std::move(source);
  vocab.bytes.reserve(text.size());
  vocab.spans.reserve(kWorldVocabSize);
  std::string token;  // reused buffer for one decoded literal

  size_t pos = 0;
  uint32_t line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    // Some copies of the file have CRLF line ends; a literal never holds a raw \r (repr escapes it).
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // An Error "<file>:<line>: <what>".
    auto fail = [&]<typename... Args>(fmt::format_string<Args...> what, Args&&... args) {
      return Error("{}:{}: {}", vocab.source, line_no, fmt::format(what, std::forward<Args>(args)...));
    };
    if (line.empty()) throw fail("empty line (expected `<id> <python literal> <byte length>`)");

    const size_t first = line.find(' ');
    const size_t last = line.rfind(' ');
    if (first == std::string_view::npos || first == last)
      throw fail("expected `<id> <python literal> <byte length>`, got `{}` (truncated line?)", line);
    const std::string_view id_field = line.substr(0, first);
    const std::string_view literal = line.substr(first + 1, last - first - 1);
    const std::string_view length_field = line.substr(last + 1);

    const auto id = parse_decimal(id_field);
    if (!id) throw fail("the id `{}` is not a decimal number (of at most {} digits)", id_field, kMaxDigits);
    if (*id == 0) throw fail("id 0 is reserved for end of document and cannot have text");
    if (*id > kMaxVocabId) throw fail("id {} is too large (at most {})", *id, kMaxVocabId);
    token.clear();
    try {
      append_python_literal(literal, token);
    } catch (const Error& e) {
      throw fail("{}", e.what());
    }
    if (token.empty()) throw fail("empty token");
    const auto length = parse_decimal(length_field);
    if (!length)
      throw fail("the byte length `{}` is not a decimal number (of at most {} digits)", length_field, kMaxDigits);
    if (static_cast<int64_t>(token.size()) != *length)
      throw fail("the length field says {} bytes but the literal is {} bytes", *length, token.size());

    const auto i = static_cast<int32_t>(*id);
    if (vocab.has(i)) throw fail("duplicate id {}", i);
    vocab.add(i, token);
  }
  if (vocab.spans.empty()) throw Error("{}: the vocab file has no tokens", vocab.source);
  return vocab;
}

}  // namespace rwkv
