// Small UTF-8 helpers for the text side of generation. Bytes are std::string_view; nothing here
// allocates.
#pragma once

#include <cstddef>
#include <string_view>

namespace rwkv::generation {

// The length of the sequence a lead byte announces: 1 for ASCII, 2-4 for a lead byte, 0 for a
// continuation byte or a byte that cannot start a sequence.
inline size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Strict validation (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
inline bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = utf8_sequence_length(c);
    if (len == 0 || i + len > s.size()) return false;
    for (size_t j = 1; j < len; ++j)
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return false;
    if (len >= 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) return false;  // overlong
      if (c == 0xED && c1 >= 0xA0) return false;  // surrogate
      if (c == 0xF0 && c1 < 0x90) return false;  // overlong
      if (c == 0xF4 && c1 >= 0x90) return false;  // above U+10FFFF
    }
    i += len;
  }
  return true;
}

// Where an unfinished character at the end of `s` begins (a lead byte followed by fewer
// continuation bytes than it announces); s.size() when `s` ends on a character boundary or with
// bytes that no continuation could make valid.
inline size_t incomplete_utf8_tail(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    const size_t len = utf8_sequence_length(c);
    return len > back ? n - back : n;
  }
  return n;
}

// The character that starts at s[i], and its length in *len. A byte that does not start a valid
// sequence decodes as U+FFFD with length 1.
inline char32_t decode_at(std::string_view s, size_t i, size_t* len) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const size_t n = utf8_sequence_length(lead);
  if (n == 0 || i + n > s.size() || !is_valid_utf8(s.substr(i, n))) {
    *len = 1;
    return lead < 0x80 ? lead : 0xFFFD;
  }
  char32_t cp = n == 1 ? lead : (lead & (0x7F >> n));
  for (size_t j = 1; j < n; ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[i + j]) & 0x3F);
  *len = n;
  return cp;
}

// Where the last character of a non-empty `s` starts, and the character (see decode_at).
inline char32_t decode_last(std::string_view s, size_t* start) {
  size_t i = s.size() - 1;
  while (i > 0 && s.size() - i < 4 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  size_t len = 0;
  const char32_t cp = decode_at(s, i, &len);
  if (i + len == s.size()) {
    *start = i;
    return cp;
  }
  *start = s.size() - 1;  // a stray byte at the end
  return 0xFFFD;
}

// Unicode's White_Space property: what Rust's str::trim (the seed) removes.
inline bool is_unicode_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

}  // namespace rwkv::generation
