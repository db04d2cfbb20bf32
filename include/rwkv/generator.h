// The generation loop: the prompt through the sequence path, then one token at a time through
// the step path, sampled with the RWKV penalties, decoded to UTF-8 text as it streams, cut at
// stop strings (never printing one, even in part).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/model.h"
#include "rwkv/sampler.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

struct GenerationConfig {
  SamplerConfig sampler;
  int64_t max_tokens = 5000;       // -n / --sample-len
  std::vector<std::string> stops;  // end at the first of these (not printed)
};

enum class StopReason { EndOfDocument, StopString, Length };

struct GenerationStats {
  int64_t prompt_tokens = 0;
  double prompt_seconds = 0;
  int64_t generated_tokens = 0;  // sampled tokens, including an end-of-document token
  double generate_seconds = 0;
  StopReason reason = StopReason::Length;
  std::vector<int32_t> tokens;  // the sampled ids
};

// Receives printable text (complete UTF-8 characters) as soon as it is known not to be part of
// a stop string.
using TextSink = std::function<void(std::string_view)>;

// Runs one generation from a fresh state. `prompt` is the final prompt text (template already
// applied). Throws rwkv::Error for an empty prompt or a tokenizer whose vocabulary the model
// cannot take.
GenerationStats generate(Model& model, const Tokenizer& tokenizer, std::string_view prompt,
                         const GenerationConfig& config, const TextSink& sink);

// Called around each model call when tracing (name, start and end in microseconds since an epoch).
using TraceHook = std::function<void(std::string_view name, double start_us, double end_us)>;
GenerationStats generate(Model& model, const Tokenizer& tokenizer, std::string_view prompt,
                         const GenerationConfig& config, const TextSink& sink, const TraceHook& trace);

}  // namespace rwkv
