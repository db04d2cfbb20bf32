// The generation loop with a scripted model whose logits make greedy sampling produce a chosen
// token sequence: stop strings split across tokens and inside multi-byte characters, the FIM
// stop, end of document, the length limit, and the end-of-stream U+FFFD.
#include <gtest/gtest.h>

#include "rwkv/generation.h"
#include "rwkv/generator.h"
#include "rwkv/tokenizer.h"
#include "support/fixtures.h"
#include "util/error.h"

namespace rwkv {
namespace {

// A model that ignores its input and, call after call, puts the highest logit on the next token
// of its script (then on `after` forever).
class ScriptedModel final : public Model {
 public:
  ScriptedModel(std::vector<int32_t> script, int64_t vocab, int32_t after = 'x') : script_(std::move(script)), after_(after) {
    hp_.vocab = vocab;
  }
  const HParams& hparams() const override { return hp_; }
  std::string describe() const override { return "scripted"; }
  uint64_t decode_bytes_per_token() const override { return 0; }
  State new_state() const override { return State(); }
  void forward(std::span<const int32_t> tokens, State&, Logits which, float* out) override {
    fed_.insert(fed_.end(), tokens.begin(), tokens.end());
    if (which == Logits::None) return;
    const size_t i = calls_++;
    const int32_t next = i < script_.size() ? script_[i] : after_;
    for (int64_t v = 0; v < hp_.vocab; ++v) out[v] = v == next ? 10.0f : 0.0f;
  }
  std::vector<int32_t> fed_;

 private:
  HParams hp_;
  std::vector<int32_t> script_;
  int32_t after_;
  size_t calls_ = 0;
};

std::vector<int32_t> bytes_of(std::string_view s) {
  std::vector<int32_t> ids;
  for (unsigned char c : s) ids.push_back(c);
  return ids;
}

GenerationConfig greedy(std::vector<std::string> stops = {}, int64_t n = 100) {
  GenerationConfig c;
  c.sampler.temperature = 0;
  c.sampler.alpha_presence = c.sampler.alpha_frequency = 0;
  c.stops = std::move(stops);
  c.max_tokens = n;
  return c;
}

std::string run(Model& m, const Tokenizer& t, const GenerationConfig& c, GenerationStats* stats = nullptr,
                std::string_view prompt = "p") {
  std::string out;
  auto s = generate(m, t, prompt, c, [&](std::string_view text) { out += text; });
  if (stats) *stats = s;
  return out;
}

TEST(Generator, StopStringSplitAcrossTokensIsNeverPrinted) {
  auto bytes = make_byte_tokenizer();
  for (const std::string stop : {"END", "\xE2\x9C\xBF" /* ✿ */, "é!"}) {
    const std::string text = "abc " + stop + " tail";
    ScriptedModel m(bytes_of(text), 256);
    GenerationStats st;
    EXPECT_EQ(run(m, *bytes, greedy({stop}), &st), "abc ");
    EXPECT_EQ(st.reason, StopReason::StopString);
    // the model was never run past the token that completed the stop string
    EXPECT_EQ(st.generated_tokens, static_cast<int64_t>(4 + stop.size()));
  }
}

TEST(Generator, MultiByteCharactersAreNeverSplit) {
  auto bytes = make_byte_tokenizer();
  const std::string text = "h\xC3\xA9llo \xF0\x9F\x91\x8D";  // héllo 👍, one byte per token
  ScriptedModel m(bytes_of(text), 256);
  std::vector<std::string> pieces;
  generate(m, *bytes, "p", greedy({}, static_cast<int64_t>(text.size())),
           [&](std::string_view s) { pieces.emplace_back(s); });
  std::string joined;
  for (const auto& p : pieces) {
    EXPECT_TRUE(p == "h" || p == "\xC3\xA9" || p == "l" || p == "o" || p == " " || p == "\xF0\x9F\x91\x8D") << p;
    joined += p;
  }
  EXPECT_EQ(joined, text);
}

TEST(Generator, IncompleteCharacterBecomesReplacementOnlyAtTheEnd) {
  auto bytes = make_byte_tokenizer();
  ScriptedModel m(bytes_of("ok\xE2\x9C"), 256);
  GenerationStats st;
  EXPECT_EQ(run(m, *bytes, greedy({}, 4), &st), "ok\xEF\xBF\xBD");
  EXPECT_EQ(st.reason, StopReason::Length);
  EXPECT_EQ(st.generated_tokens, 4);
}

TEST(Generator, EndOfDocumentAndLengthLimit) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  auto world = load_tokenizer(vocab);
  const auto hi = world->encode("Hello world");
  std::vector<int32_t> script = hi;
  script.push_back(0);  // end of document
  ScriptedModel m(script, 65536);
  GenerationStats st;
  EXPECT_EQ(run(m, *world, greedy(), &st), "Hello world");
  EXPECT_EQ(st.reason, StopReason::EndOfDocument);
  EXPECT_EQ(st.generated_tokens, static_cast<int64_t>(hi.size() + 1));

  ScriptedModel m2(script, 65536);
  EXPECT_EQ(run(m2, *world, greedy({}, 1), &st), "Hello");
  EXPECT_EQ(st.generated_tokens, 1);
  EXPECT_EQ(st.reason, StopReason::Length);
  // the prompt went through the model once, in one forward call (the sequence path), then
  // nothing more: with -n 1 no token is fed back
  EXPECT_EQ(m2.fed_, world->encode("p"));
}

TEST(Generator, ChatTurnEndsAtBlankLineAndFimAtFlower) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  auto world = load_tokenizer(vocab);
  {  // "\n\n" arriving as two "\n" tokens, and as the single token 261
    ScriptedModel a(world->encode("Paris.\n"), 65536, world->encode("\n")[0]);
    EXPECT_EQ(run(a, *world, greedy(effective_stop_strings(PromptTemplate::chat, {}))), "Paris.");
    auto ids = world->encode("Paris.");
    ids.push_back(261);
    ScriptedModel b(ids, 65536);
    EXPECT_EQ(run(b, *world, greedy(effective_stop_strings(PromptTemplate::chat, {}))), "Paris.");
  }
  {
    ScriptedModel m(world->encode("return a + b;\xE2\x9C\xBF"), 65536);
    EXPECT_EQ(run(m, *world, greedy(effective_stop_strings(PromptTemplate::fim, {}))), "return a + b;");
  }
}

TEST(Generator, UnprintableIdsAreNeverSampled) {
  auto bytes = make_byte_tokenizer();
  ScriptedModel m({300, 301}, 512);  // the model prefers ids the byte tokenizer cannot print
  const std::string out = run(m, *bytes, greedy({}, 2));
  EXPECT_EQ(out.size(), 2u);  // something printable was chosen instead
}

TEST(Generator, EmptyPromptAndMismatchedVocabAreErrors) {
  auto bytes = make_byte_tokenizer();
  ScriptedModel m({}, 256);
  EXPECT_THROW(generate(m, *bytes, "", greedy(), [](std::string_view) {}), UsageError);
  ScriptedModel small({}, 100);  // 'p' is 112: outside this model's vocabulary
  EXPECT_THROW(generate(small, *bytes, "p", greedy(), [](std::string_view) {}), Error);
  ScriptedModel fits({'A'}, 100);
  EXPECT_EQ(run(fits, *bytes, greedy({}, 1), nullptr, "AB"), "A");  // "p" is outside, "AB" is not

}

}  // namespace
}  // namespace rwkv
