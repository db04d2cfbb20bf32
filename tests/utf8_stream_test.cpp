// The streaming UTF-8 decoder and the validator: Python's errors="replace" results, whatever
// the split of the input.
#include <gtest/gtest.h>

#include <random>

#include "support/fixtures.h"
#include "support/jsonl.h"
#include "tokenizer/utf8_stream.h"

namespace rwkv {
namespace {

const std::string kFffd(kReplacementUtf8);

// Feeds `bytes` in pieces of `chunk` bytes (0 = all at once) and finishes.
std::string decode_in_chunks(std::string_view bytes, size_t chunk) {
  Utf8StreamDecoder d;
  std::string out;
  if (chunk == 0) chunk = bytes.size() + 1;
  for (size_t i = 0; i < bytes.size(); i += chunk) d.feed(bytes.substr(i, chunk), out);
  return out + d.finish();
}

TEST(Utf8Stream, HoldsBackAnIncompleteCharacter) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.feed("a\xE4"), "a");
  EXPECT_EQ(d.pending_bytes(), 1u);
  EXPECT_EQ(d.feed("\xBD"), "");
  EXPECT_EQ(d.pending_bytes(), 2u);
  EXPECT_EQ(d.feed("\xA0!"), "\xE4\xBD\xA0!");  // 你!
  EXPECT_EQ(d.pending_bytes(), 0u);
  EXPECT_EQ(d.finish(), "");
  EXPECT_EQ(d.feed("\xF0\x9F\x98"), "");
  EXPECT_EQ(d.feed("\x80"), "\U0001F600");
}

TEST(Utf8Stream, ReplacesOnlyWhenCertain) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.feed("\xFF"), kFffd);        // never valid: replaced at once
  EXPECT_EQ(d.feed("\xE4"), "");           // may still complete
  EXPECT_EQ(d.feed("A"), kFffd + "A");     // cannot any more: one U+FFFD, then A as itself
  EXPECT_EQ(d.feed("\xF0\x9F\x98"), "");
  EXPECT_EQ(d.finish(), kFffd);            // the stream ended inside a character
  EXPECT_EQ(d.finish(), "");
  EXPECT_EQ(d.feed("ok"), "ok");           // usable again after finish()
}

// One U+FFFD per maximal subpart (Unicode 15, table 3-8 and the examples around it), as Python.
TEST(Utf8Stream, MaximalSubparts) {
  const std::pair<std::string, std::string> cases[] = {
      {"\xC0\x80", kFffd + kFffd},                      // overlong lead C0 never starts a character
      {"\xE0\x80\x80", kFffd + kFffd + kFffd},          // E0 needs A0..BF next
      {"\xE0\xA0", kFffd},                              // truncated: one replacement
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},          // a surrogate
      {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
      {"\xF0\x9F\x98" "A", kFffd + "A"},
      {"\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", kFffd + kFffd + kFffd + kFffd + "A"},  // Unicode's example
      {"\x80\x80", kFffd + kFffd},
      {"\xF8\x88\x80\x80\x80", kFffd + kFffd + kFffd + kFffd + kFffd},
  };
  for (const auto& [in, want] : cases)
    for (size_t chunk : {0, 1, 2}) EXPECT_EQ(decode_in_chunks(in, chunk), want) << "chunk " << chunk;
}

// decode.jsonl's decode_replace is Python's bytes.decode("utf-8", errors="replace").
TEST(Utf8Stream, MatchesPythonReplaceOnDecodeCases) {
  RWKV_TOKENIZER_OR_SKIP(cases, "decode.jsonl");
  size_t checked = 0;
  for (const auto& row : test::read_jsonl(cases)) {
    if (row.at("hex").is_null()) continue;
    SCOPED_TRACE(row.at("name").get<std::string>());
    const std::string bytes = test::unhex(row.at("hex").get<std::string>());
    const std::string want = row.at("decode_replace").get<std::string>();
    for (size_t chunk : {0, 1, 2, 3, 5}) EXPECT_EQ(decode_in_chunks(bytes, chunk), want);
    EXPECT_EQ(validate_utf8(bytes).has_value(), want != bytes);
    ++checked;
  }
  EXPECT_EQ(checked, 536u);
}

// Any split gives the same text, the text is valid UTF-8, and valid input passes unchanged.
TEST(Utf8Stream, SplitDoesNotMatterOnRandomBytes) {
  std::mt19937 rng(42);
  // Bytes drawn mostly from the interesting region (continuations and leads).
  const std::string alphabet = "aZ\x7F\x80\x8F\x90\x9F\xA0\xBF\xC0\xC1\xC2\xDF\xE0\xE1\xED\xEF\xF0\xF1\xF4\xF5\xFF";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes(rng() % 12, '\0');
    for (char& c : bytes) c = alphabet[rng() % alphabet.size()];
    const std::string whole = decode_in_chunks(bytes, 0);
    EXPECT_FALSE(validate_utf8(whole).has_value());
    EXPECT_EQ(decode_in_chunks(bytes, 1), whole);
    EXPECT_EQ(decode_in_chunks(bytes, 1 + rng() % 4), whole);
    if (!validate_utf8(bytes)) EXPECT_EQ(whole, bytes);
    else EXPECT_NE(whole.find(kFffd), std::string::npos);
  }
}

TEST(ValidateUtf8, ReportsTheFirstBadSequence) {
  EXPECT_EQ(validate_utf8(""), std::nullopt);
  EXPECT_EQ(validate_utf8("plain ascii"), std::nullopt);
  EXPECT_EQ(validate_utf8("\xE4\xBD\xA0\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"), std::nullopt);
  EXPECT_EQ(validate_utf8("ab\xFF"), 2u);
  EXPECT_EQ(validate_utf8("ab\xE4\xBD"), 2u);          // truncated at the end
  EXPECT_EQ(validate_utf8("a\xE4\xBD" "b"), 1u);       // truncated in the middle
  EXPECT_EQ(validate_utf8("\xC0\x80"), 0u);            // overlong
  EXPECT_EQ(validate_utf8("ok\xED\xA0\x80"), 2u);      // surrogate
  EXPECT_EQ(validate_utf8("\xF4\x90\x80\x80"), 0u);    // above U+10FFFF
}

TEST(AppendUtf8, EncodesEveryLength) {
  const std::pair<uint32_t, std::string> cases[] = {
      {0x0, std::string(1, '\0')}, {0x7F, "\x7F"}, {0x80, "\xC2\x80"}, {0x7FF, "\xDF\xBF"},
      {0x800, "\xE0\xA0\x80"}, {0xFFFD, "\xEF\xBF\xBD"}, {0x10000, "\xF0\x90\x80\x80"}, {0x10FFFF, "\xF4\x8F\xBF\xBF"}};
  for (const auto& [cp, want] : cases) {
    std::string out;
    append_utf8(cp, out);
    EXPECT_EQ(out, want) << cp;
  }
}

}  // namespace
}  // namespace rwkv
