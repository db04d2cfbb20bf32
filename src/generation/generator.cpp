#include <chrono>
#include <limits>

#include "rwkv/generation.h"
#include "rwkv/generator.h"
#include "tokenizer/utf8_stream.h"
#include "util/error.h"

namespace rwkv {

namespace {

using Clock = std::chrono::steady_clock;

double micros(Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(t.time_since_epoch()).count();
}

// Ids the model can produce but the tokenizer cannot print (World ids 65530-65535, or ids past a
// smaller tokenizer's vocabulary) are never sampled: their logits are set to -inf once.
std::vector<int32_t> unprintable_ids(int64_t model_vocab, const Tokenizer& tok) {
  std::vector<int32_t> out;
  const auto eod = tok.end_of_document();
  for (int64_t id = 0; id < model_vocab; ++id) {
    const auto i = static_cast<int32_t>(id);
    if (!tok.has_text(i) && !(eod && *eod == i)) out.push_back(i);
  }
  return out;
}

}  // namespace

GenerationStats generate(Model& model, const Tokenizer& tokenizer, std::string_view prompt,
                         const GenerationConfig& config, const TextSink& sink) {
  return generate(model, tokenizer, prompt, config, sink, {});
}

GenerationStats generate(Model& model, const Tokenizer& tokenizer, std::string_view prompt,
                         const GenerationConfig& config, const TextSink& sink, const TraceHook& trace) {
  const int64_t vocab = model.hparams().vocab;
  const std::vector<int32_t> ids = tokenizer.encode(prompt);
  if (ids.empty()) throw UsageError("--prompt: the prompt is empty; there is nothing to continue");
  // A tokenizer larger than the model's vocabulary works as long as the prompt stays inside it
  // (small test models use the byte tokenizer); ids past the model cannot be sampled anyway.
  for (int32_t id : ids)
    if (id >= vocab)
      throw Error("the prompt has token {} ('{}') but the model's vocabulary has only {} tokens: the tokenizer does not "
                  "belong to this model",
                  id, tokenizer.token_bytes(id), vocab);

  GenerationStats stats;
  Sampler sampler(config.sampler, static_cast<int32_t>(vocab));
  StopMatcher stop(config.stops);
  Utf8StreamDecoder utf8;
  const auto masked = unprintable_ids(vocab, tokenizer);
  const auto eod = tokenizer.end_of_document();
  std::vector<float> logits(static_cast<size_t>(vocab));
  State state = model.new_state();

  auto timed = [&](std::string_view name, auto&& fn) {
    const auto t0 = Clock::now();
    fn();
    if (trace) trace(name, micros(t0), micros(Clock::now()));
  };

  // 1. The prompt, through the sequence path; its tokens count for the penalties, as in the seed.
  auto t0 = Clock::now();
  timed("prompt", [&] { model.forward(ids, state, Logits::Last, logits.data()); });
  stats.prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  stats.prompt_tokens = static_cast<int64_t>(ids.size());
  for (int32_t id : ids) sampler.accept(id);

  // 2. Sample, print, feed back; one token at a time.
  t0 = Clock::now();
  for (int64_t n = 0; n < config.max_tokens; ++n) {
    for (int32_t id : masked) logits[static_cast<size_t>(id)] = -std::numeric_limits<float>::infinity();
    int32_t token = 0;
    timed("sample", [&] { token = sampler.sample(logits); });
    sampler.accept(token);
    stats.tokens.push_back(token);
    ++stats.generated_tokens;
    if (eod && token == *eod) {
      stats.reason = StopReason::EndOfDocument;
      break;
    }
    const std::string text = stop.feed(utf8.feed(tokenizer.token_bytes(token)));
    if (!text.empty()) sink(text);
    if (stop.stopped()) {
      stats.reason = StopReason::StopString;
      break;
    }
    if (n + 1 < config.max_tokens) timed("token", [&] { model.step(token, state, logits.data()); });
  }
  stats.generate_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  // 3. Flush what was held back: an incomplete character becomes U+FFFD only now, at the end.
  if (!stop.stopped()) {
    std::string tail = stop.feed(utf8.finish());
    if (!stop.stopped()) tail += stop.finish();
    if (!tail.empty()) sink(tail);
    if (stop.stopped()) stats.reason = StopReason::StopString;
  }
  return stats;
}

}  // namespace rwkv
