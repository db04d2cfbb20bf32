#include "tokenizer/utf8_stream.h"

namespace rwkv {
namespace {

constexpr uint8_t kAsciiEnd = 0x80;         // bytes below are one-byte characters
constexpr uint8_t kContinuationMin = 0x80;  // the usual range of a continuation byte
constexpr uint8_t kContinuationMax = 0xBF;

// What a byte means at the start of a character: how many continuation bytes follow, and the
// range allowed for the first of them. Unicode Table 3-7 ("Well-Formed UTF-8 Byte Sequences"):
// the narrow second-byte ranges after E0, ED, F0 and F4 exclude overlong forms, surrogates and
// code points above U+10FFFF. `continuation < 0` marks a byte that can never start a character
// (a stray continuation byte, C0/C1, F5..FF).
struct Lead {
  int continuation;
  uint8_t second_min;
  uint8_t second_max;
};

constexpr Lead classify_lead(uint8_t b) {
  if (b >= 0xC2 && b <= 0xDF) return {1, kContinuationMin, kContinuationMax};
  if (b == 0xE0) return {2, 0xA0, kContinuationMax};
  if (b == 0xED) return {2, kContinuationMin, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {2, kContinuationMin, kContinuationMax};
  if (b == 0xF0) return {3, 0x90, kContinuationMax};
  if (b >= 0xF1 && b <= 0xF3) return {3, kContinuationMin, kContinuationMax};
  if (b == 0xF4) return {3, kContinuationMin, 0x8F};
  return {-1, 0, 0};
}

}  // namespace

std::string Utf8StreamDecoder::feed(std::string_view bytes) {
  std::string out;
  feed(bytes, out);
  return out;
}

void Utf8StreamDecoder::feed(std::string_view bytes, std::string& out) {
  for (const char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    if (needed_ > 0) {
      if (b >= next_min_ && b <= next_max_) {
        held_[held_size_++] = c;
        next_min_ = kContinuationMin;
        next_max_ = kContinuationMax;
        if (--needed_ == 0) {
          out.append(held_, held_size_);
          held_size_ = 0;
        }
        continue;
      }
      // The held prefix cannot be completed: it is one maximal subpart, hence one U+FFFD. The
      // byte that broke it is not part of that subpart and starts afresh below.
      out.append(kReplacementUtf8);
      held_size_ = 0;
      needed_ = 0;
    }
    if (b < kAsciiEnd) {
      out.push_back(c);
      continue;
    }
    const Lead lead = classify_lead(b);
    if (lead.continuation < 0) {
      out.append(kReplacementUtf8);
      continue;
    }
    held_[0] = c;
    held_size_ = 1;
    needed_ = lead.continuation;
    next_min_ = lead.second_min;
    next_max_ = lead.second_max;
  }
}

std::string Utf8StreamDecoder::finish() {
  std::string out;
  if (held_size_ > 0) out.append(kReplacementUtf8);
  held_size_ = 0;
  needed_ = 0;
  return out;
}

std::optional<size_t> validate_utf8(std::string_view bytes) {
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (b < kAsciiEnd) {
      ++i;
      continue;
    }
    const Lead lead = classify_lead(b);
    if (lead.continuation < 0 || n - i - 1 < static_cast<size_t>(lead.continuation)) return i;
    uint8_t min = lead.second_min, max = lead.second_max;
    for (int k = 1; k <= lead.continuation; ++k) {
      const auto cb = static_cast<uint8_t>(bytes[i + k]);
      if (cb < min || cb > max) return i;
      min = kContinuationMin;
      max = kContinuationMax;
    }
    i += 1 + lead.continuation;
  }
  return std::nullopt;
}

void append_utf8(uint32_t cp, std::string& out) {
  // Payload bits per byte and the marker bits of lead/continuation bytes (RFC 3629, section 3).
  constexpr uint32_t kOneByteMax = 0x7F, kTwoByteMax = 0x7FF, kThreeByteMax = 0xFFFF;
  constexpr uint32_t kSixBits = 0x3F;
  auto cont = [&](int shift) { out.push_back(static_cast<char>(0x80 | ((cp >> shift) & kSixBits))); };
  if (cp <= kOneByteMax) {
    out.push_back(static_cast<char>(cp));
  } else if (cp <= kTwoByteMax) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    cont(0);
  } else if (cp <= kThreeByteMax) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    cont(6);
    cont(0);
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    cont(12);
    cont(6);
    cont(0);
  }
}

}  // namespace rwkv
