// Golden fixture cases: a folder with case.json (tokens, shapes) and reference logits.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rwkv/model.h"

namespace rwkv::test {

struct GoldenCase {
  std::filesystem::path dir;
  std::vector<int32_t> tokens;       // case.json "tokens"
  std::vector<int32_t> tokens_long;  // case.json "tokens_long" (trained tiny models only)
  int64_t vocab = 0;
};

// Reads <fixtures>/<name>/case.json; returns false when the fixture is absent.
bool load_golden_case(const std::string& name, GoldenCase* out);

// The logits for `tokens` from a zero state: "seq" = one forward call (chunked by
// options.chunk_size), "rnn" = one step per token.
std::vector<float> run_logits(Model& model, const std::vector<int32_t>& tokens, const std::string& mode);

// Loads <case dir>/<file> with `options`, runs the case's tokens ("seq" or "rnn") and expects its
// logits within `tolerance` (max |diff|) of the official ones in logits.f32; records that difference.
void expect_official_logits(const GoldenCase& c, const std::string& file, const std::string& mode,
                            const ModelOptions& options, double tolerance);

// How many rows of `vocab` logits have their largest entry at the same place in both.
int top1_agreement(const std::vector<float>& got, const std::vector<float>& want, int64_t vocab);

// One-token steps replayed so far, from the model's description ("..., R of S one-token steps
// replayed<suffix>", as the CPU replay backend and the CUDA graphs write it); -1 when absent.
int replayed_steps(const Model& model, const std::string& suffix = "");

}  // namespace rwkv::test
