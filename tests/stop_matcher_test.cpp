// StopMatcher: examples, and a property test over random texts, stop sets and chunkings.
#include <gtest/gtest.h>

#include <random>

#include "generation/utf8.h"
#include "rwkv/generation.h"
#include "util/error.h"

namespace rwkv {
namespace {

// Feeds `pieces` in order; returns the concatenated output (plus finish() when not stopped).
std::string run(StopMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.feed(p);
  return out + m.finish();
}

TEST(StopMatcher, StopsBeforeTheStopString) {
  StopMatcher m({"\n\n"});
  EXPECT_EQ(m.feed("Hello"), "Hello");
  EXPECT_EQ(m.feed(" world\n"), " world");  // "\n" could start "\n\n"
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.feed("\nUser: more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), 0u);
  EXPECT_EQ(m.feed("anything"), "");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, ReleasesWhatTurnsOutNotToBeAStop) {
  StopMatcher m({"\n\n"});
  EXPECT_EQ(m.feed("a\n"), "a");
  EXPECT_EQ(m.feed("b"), "\nb");
  EXPECT_EQ(m.feed("c\n"), "c");
  EXPECT_EQ(m.finish(), "\n");  // generation ended another way: the held-back newline is text
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopStringAcrossManyTokensAndMultiByte) {
  StopMatcher m({"User:"});
  EXPECT_EQ(m.feed("é U"), "é ");
  EXPECT_EQ(m.feed("s"), "");
  EXPECT_EQ(m.feed("e"), "");
  EXPECT_EQ(m.feed("r:"), "");
  EXPECT_TRUE(m.stopped());

  StopMatcher f({"✿"});  // three bytes
  EXPECT_EQ(f.feed("x\xe2"), "x");
  EXPECT_EQ(f.feed("\x9c"), "");
  EXPECT_EQ(f.feed("\xbfy"), "");
  EXPECT_TRUE(f.stopped());
}

TEST(StopMatcher, NeverSplitsACharacter) {
  StopMatcher m({});
  EXPECT_EQ(m.feed("a\xc3"), "a");
  EXPECT_EQ(m.feed("\xa9"), "é");
  EXPECT_EQ(m.feed("\xe2\x9c"), "");
  EXPECT_EQ(m.feed("\xbf\xf0\x9f"), "✿");
  EXPECT_EQ(m.feed("\x98\x80!"), "😀!");
  EXPECT_EQ(m.feed("\xe2"), "");
  EXPECT_EQ(m.finish(), "\xe2");  // at the end, even a cut character is released
  // Bytes no continuation could repair are not held.
  StopMatcher bad({});
  EXPECT_EQ(bad.feed("\xc3" "a"), "\xc3" "a");
  EXPECT_EQ(bad.feed("\x80"), "\x80");
}

TEST(StopMatcher, SeveralAndOverlappingStops) {
  {  // "bc" completes before "abcd" could
    StopMatcher m({"abcd", "bc"});
    EXPECT_EQ(run(m, {"abcd"}), "a");
    EXPECT_EQ(m.matched(), 1u);
  }
  {  // both end at the same byte: the longer one, which starts first, wins
    StopMatcher m({"bc", "abc"});
    EXPECT_EQ(run(m, {"xab", "c"}), "x");
    EXPECT_EQ(m.matched(), 1u);
  }
  {  // self-overlapping stop
    StopMatcher m({"aab"});
    EXPECT_EQ(m.feed("aa"), "");
    EXPECT_EQ(m.feed("a"), "a");
    EXPECT_EQ(m.feed("b"), "");
    EXPECT_TRUE(m.stopped());
  }
  {  // a stop that is a prefix of another
    StopMatcher m({"ab", "abc"});
    EXPECT_EQ(run(m, {"xa", "bc"}), "x");
    EXPECT_EQ(m.matched(), 0u);
  }
}

TEST(StopMatcher, RejectsBadStopStrings) {
  try {
    StopMatcher m({"ok", ""});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--stop", 0), 0u) << e.what();
  }
  EXPECT_THROW(StopMatcher({"\xe2\x9c"}), UsageError);  // a cut character
  EXPECT_THROW(StopMatcher({"\x9c\xbf"}), UsageError);  // starts inside a character
  EXPECT_NO_THROW(StopMatcher({}));
}

TEST(StopMatcher, ResetWatchesANewText) {
  StopMatcher m({"\n\n"});
  EXPECT_EQ(run(m, {"a\n\nb"}), "a");
  m.reset();
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(run(m, {"c\n", "d"}), "c\nd");
}

// ------------------------------------------------------------------ property test

// The definition: the text before the stop occurrence that ends first (then starts first).
std::pair<std::string, bool> expected_output(const std::string& text, const std::vector<std::string>& stops) {
  size_t best_start = std::string::npos, best_end = std::string::npos;
  for (const auto& s : stops) {
    const size_t pos = text.find(s);
    if (pos == std::string::npos) continue;
    if (pos + s.size() < best_end || (pos + s.size() == best_end && pos < best_start)) {
      best_start = pos;
      best_end = pos + s.size();
    }
  }
  if (best_start == std::string::npos) return {text, false};
  return {text.substr(0, best_start), true};
}

// Held-back bytes must be explained: a proper prefix of a stop string, or a cut character.
bool held_is_justified(std::string_view held, const std::vector<std::string>& stops) {
  if (held.empty()) return true;
  for (const auto& s : stops)
    if (held.size() < s.size() && std::string_view(s).substr(0, held.size()) == held) return true;
  return held.size() <= 3 && generation::incomplete_utf8_tail(held) == 0;
}

// Feeds `text` cut at `cuts` (sorted byte offsets) and checks every property along the way.
void check_chunking(const std::string& text, const std::vector<std::string>& stops, const std::vector<size_t>& cuts) {
  const auto [expected, stops_expected] = expected_output(text, stops);
  StopMatcher m(stops);
  std::string emitted;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(text.size());
  for (const size_t end : ends) {
    const std::string out = m.feed(std::string_view(text).substr(fed, end - fed));
    fed = end;
    ASSERT_TRUE(generation::is_valid_utf8(out)) << "split a character";
    emitted += out;
    ASSERT_EQ(expected.compare(0, emitted.size(), emitted), 0) << "emitted more than the text before the stop";
    ASSERT_LE(emitted.size(), expected.size());
    if (!m.stopped()) {
      ASSERT_TRUE(held_is_justified(std::string_view(text).substr(emitted.size(), fed - emitted.size()), stops))
          << "held back more than a possible stop";
    }
  }
  emitted += m.finish();
  ASSERT_EQ(emitted, expected);
  ASSERT_EQ(m.stopped(), stops_expected);
}

TEST(StopMatcherProperty, EveryChunkingGivesTheTextBeforeTheFirstStop) {
  const std::vector<std::string> pieces = {"a", "b", "\n", "é", "✿", "ab", "<", "😀", " ", "\n\n", "m"};
  const std::vector<std::string> stop_pool = {"\n\n", "✿", "ab", "bé", "aab", "é✿", "b\nb", "😀a", "a", "✿m✿"};
  std::mt19937 rng(12345);  // the property holds for every stream; a fixed one keeps runs identical
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  int with_stop = 0;
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    const size_t length = pick(16);
    for (size_t i = 0; i < length; ++i) text += pieces[pick(pieces.size())];
    std::vector<std::string> stops;
    const size_t count = pick(4);  // 0 to 3 stop strings
    for (size_t i = 0; i < count; ++i) stops.push_back(stop_pool[pick(stop_pool.size())]);
    if (expected_output(text, stops).second) ++with_stop;
    SCOPED_TRACE(testing::Message() << "round " << round << " text '" << text << "'");

    // One piece; every single cut; every byte on its own; random cuts (including inside characters).
    check_chunking(text, stops, {});
    for (size_t cut = 1; cut < text.size(); ++cut) check_chunking(text, stops, {cut});
    std::vector<size_t> all;
    for (size_t cut = 1; cut < text.size(); ++cut) all.push_back(cut);
    check_chunking(text, stops, all);
    for (int r = 0; r < 4; ++r) {
      std::vector<size_t> cuts;
      for (size_t cut = 1; cut < text.size(); ++cut)
        if (pick(3) == 0) cuts.push_back(cut);
      check_chunking(text, stops, cuts);
    }
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(with_stop, 1000);  // both kinds of text were common
  EXPECT_LT(with_stop, 4000);
}

}  // namespace
}  // namespace rwkv
