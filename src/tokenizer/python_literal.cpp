#include "tokenizer/python_literal.h"

#include <cstdint>

#include "tokenizer/utf8_stream.h"
#include "util/error.h"

namespace rwkv {
namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kSurrogateMin = 0xD800;
constexpr uint32_t kSurrogateMax = 0xDFFF;
constexpr uint8_t kAsciiEnd = 0x80;
// Hex digits after \x, \u and \U.
constexpr size_t kHexDigitsX = 2, kHexDigitsU = 4, kHexDigitsBigU = 8;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads `digits` hex digits at `body[pos]`; throws on a short or non-hex escape.
uint32_t read_hex(std::string_view body, size_t pos, size_t digits, char escape) {
  if (body.size() - pos < digits)
    throw Error("truncated \\{} escape (needs {} hex digits)", escape, digits);
  uint32_t v = 0;
  for (size_t k = 0; k < digits; ++k) {
    const int d = hex_value(body[pos + k]);
    if (d < 0) throw Error("bad \\{} escape: '{}' is not a hex digit", escape, body[pos + k]);
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

}  // namespace

namespace {

// Decodes the body of a literal (what lies between its quotes). `quote` may not appear unescaped
// in it (0: any character may).
void append_body(std::string_view body, bool is_bytes, char quote, std::string& out) {
  // Raw (unescaped) text in a str literal is UTF-8, as the file is; a bytes literal may only
  // hold ASCII. Escapes are ASCII, so checking the whole body up front covers both.
  if (is_bytes) {
    for (size_t i = 0; i < body.size(); ++i)
      if (static_cast<uint8_t>(body[i]) >= kAsciiEnd)
        throw Error("non-ASCII byte 0x{:02X} in a bytes literal at offset {}", static_cast<uint8_t>(body[i]), i);
  } else if (const auto bad = validate_utf8(body)) {
    throw Error("invalid UTF-8 in a str literal at offset {}", *bad);
  }

  size_t i = 0;
  while (i < body.size()) {
    // Copy the run of plain characters up to the next backslash in one go.
    const size_t slash = body.find('\\', i);
    const std::string_view plain = body.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    if (quote != 0 && plain.find(quote) != std::string_view::npos)
      throw Error("unescaped {} inside the literal (truncated or joined line?)", quote);
    out.append(plain);
    if (slash == std::string_view::npos) break;
    i = slash + 1;
    if (i == body.size()) throw Error("the literal ends in a lone backslash");
    const char e = body[i++];
    switch (e) {
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case 'x': {
        const uint32_t v = read_hex(body, i, kHexDigitsX, e);
        i += kHexDigitsX;
        if (is_bytes) out.push_back(static_cast<char>(v));
        else append_utf8(v, out);
        break;
      }
      case 'u':
      case 'U': {
        if (is_bytes) throw Error("\\{} escape in a bytes literal", e);
        const size_t digits = e == 'u' ? kHexDigitsU : kHexDigitsBigU;
        const uint32_t v = read_hex(body, i, digits, e);
        i += digits;
        if (v > kMaxCodePoint) throw Error("\\{} escape U+{:X} is above U+10FFFF", e, v);
        if (v >= kSurrogateMin && v <= kSurrogateMax)
          throw Error("\\{} escape U+{:04X} is a surrogate, which UTF-8 cannot encode", e, v);
        append_utf8(v, out);
        break;
      }
      default:
        throw Error("unsupported escape \\{} (the vocab uses only \\\\ \\' \\\" \\n \\t \\r \\x \\u \\U)", e);
    }
  }
}

}  // namespace

void append_python_literal(std::string_view literal, std::string& out) {
  const bool is_bytes = !literal.empty() && literal.front() == 'b';
  if (is_bytes) literal.remove_prefix(1);
  if (literal.size() < 2 || (literal.front() != '\'' && literal.front() != '"') || literal.back() != literal.front())
    throw Error("expected a Python literal like 'text' or b'\\xff', got `{}{}`", is_bytes ? "b" : "", literal);
  append_body(literal.substr(1, literal.size() - 2), is_bytes, literal.front(), out);
}

void append_python_bytes_repr_body(std::string_view body, std::string& out) { append_body(body, true, 0, out); }

}  // namespace rwkv
