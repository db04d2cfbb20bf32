// UTF-8 for text that arrives token by token: an incremental decoder that never prints half a
// character, a validator for user input, and encoding one code point.
//
// Invalid input becomes U+FFFD with one replacement per "maximal subpart" of an ill-formed
// sequence, the practice the Unicode standard recommends (chapter 3, "U+FFFD Substitution of
// Maximal Subparts") and the one Python's bytes.decode("utf-8", errors="replace") follows. So
// feeding any split of some bytes and then calling finish() yields exactly what Python returns for
// the whole byte string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rwkv {

// The UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER.
inline constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

class Utf8StreamDecoder {
 public:
  // Appends the bytes of the next token(s) and returns the text that is now complete: every
  // finished character, plus one U+FFFD for each invalid subsequence that can no longer become
  // valid. A trailing sequence that is still a valid prefix of a character is held back.
  std::string feed(std::string_view bytes);
  // Same, appending to `out` (no allocation when `out` has room).
  void feed(std::string_view bytes, std::string& out);

  // Ends the stream: a held-back incomplete sequence becomes one U+FFFD. The decoder is then
  // empty and can be reused.
  std::string finish();

  // Bytes held back waiting for the rest of a character (0..3).
  size_t pending_bytes() const { return held_size_; }

 private:
  char held_[4] = {};      // the lead byte and the continuation bytes seen so far
  size_t held_size_ = 0;   // 0 = between characters
  int needed_ = 0;         // continuation bytes still missing
  uint8_t next_min_ = 0;   // the range the next continuation byte must fall in (the second byte
  uint8_t next_max_ = 0;   // of some sequences is narrower, which rules out overlongs/surrogates)
};

// Offset of the first byte of the first ill-formed (or truncated) sequence in `bytes`, or nullopt
// when all of it is valid UTF-8.
std::optional<size_t> validate_utf8(std::string_view bytes);

// Appends the UTF-8 encoding of `code_point` (<= U+10FFFF, not a surrogate; the caller checks).
void append_utf8(uint32_t code_point, std::string& out);

}  // namespace rwkv
