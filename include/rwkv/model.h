// The public model API: load a checkpoint, create states, feed tokens, get logits.
//
//   auto model = rwkv::Model::load({"rwkv7-g1d-0.1b.pth"});
//   rwkv::State state = model->new_state();
//   std::vector<float> logits(model->hparams().vocab);
//   model->forward(prompt_ids, state, rwkv::Logits::Last, logits.data());
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/state.h"

namespace rwkv {

enum class DType : uint8_t;

enum class Arch { Rwkv5, Rwkv6, Rwkv7, Rwkv7a, Rwkv7b };
// "rwkv5", "rwkv6", "rwkv7", "rwkv7a", "rwkv7b"
std::string_view arch_name(Arch a);
bool parse_arch(std::string_view name, Arch* out);

// Hyper-parameters, all read from tensor names and shapes (never assumed).
struct HParams {
  Arch arch = Arch::Rwkv7;
  int64_t n_layer = 0;
  int64_t n_embd = 0;     // C
  int64_t n_head = 0;     // H
  int64_t head_size = 0;  // N, with H * N == C
  int64_t vocab = 0;
  int64_t dim_ffn = 0;
  // Low-rank (LoRA) widths; 0 where the architecture has none.
  int64_t lora_decay = 0;  // v6 time_decay_w1, v7 w1
  int64_t lora_mix = 0;    // v6 time_maa_w1 (per mix)
  int64_t lora_iclr = 0;   // v7 a1
  int64_t lora_value = 0;  // v7 v1
  int64_t lora_gate = 0;   // v7 g1
  // RWKV-7a/7b DeepEmbed and 7b DEA widths.
  int64_t deep_embed_dim = 0;   // s_emb width (1024 = 32 x 32)
  int64_t deep_embed_rank = 0;  // s1 width (32)
  int64_t dea_qk_dim = 0;       // qq rows (256)
  int64_t dea_kv_rank = 0;      // k1 width (32)
};

struct ModelOptions {
  // The dtype weight matrices are held in at run time (converted once at load when it differs
  // from the file's); empty = as stored in the file.
  std::optional<DType> dtype;
  int threads = 0;              // 0 = one per physical core
  std::optional<Arch> arch;     // override the detection for odd files
  std::string config_file;      // a Hugging Face config.json (v5/v6 HF layout)
  // Tokens per sequence-path chunk: bounds activation memory, while longer chunks make wider
  // matrix products (1.5B bf16: prefill 232 tok/s and peak RSS 2969 MB at 128; 275 and 3049 at 512).
  int64_t chunk_size = 512;
  // Reduced-precision activations where the hardware pays for it, as llama.cpp does: the
  // sequence path's matrix products with bf16 weights round the activations to bf16 (AVX512_BF16
  // dot products, ~2x faster), and products with Q8_0/Q4_0 weights quantize them to 8 bits per
  // block of 32 (AVX512_VNNI integer dot products). Logits move by ~1e-2 (bf16). Off = f32
  // activations everywhere, which `rwkv logits` uses; text generation and `rwkv bench` turn it on.
  bool fast_activations = false;
  // Copy the weight matrices into memory on 2 MiB pages at load instead of reading them in place
  // from the file mapping: fewer TLB misses per decode step. Costs one copy at load.
  bool huge_pages = false;
  // Where the model runs: "cpu", "cuda" (= "cuda:0"), "cuda:N", or "auto" (the first GPU when the
  // build has the CUDA backend and a device is present, else the CPU). The library defaults to the
  // CPU; the CLI defaults to "auto".
  std::string device = "cpu";
  // Record each one-token step once and replay it (CUDA graphs) on backends that can; off runs
  // every op of every step (the same arithmetic: for tests and debugging).
  bool step_graphs = true;
};

enum class Logits {
  None,  // update the state only
  Last,  // out = [vocab], the logits after the last token
  All,   // out = [T][vocab], the logits after each token
};

class Model {
 public:
  // Reads one checkpoint (several files for sharded ones): .pth, .safetensors, GGUF or rwkv.cpp .bin.
  static std::unique_ptr<Model> load(const std::vector<std::string>& files, const ModelOptions& options = {});
  virtual ~Model() = default;

  virtual const HParams& hparams() const = 0;
  // A one-line description: architecture, shape, weight dtype, backend.
  virtual std::string describe() const = 0;
  // Bytes of weights one decode step reads from memory (every matrix; one row of each table):
  // with the machine's read bandwidth, the ceiling of decode speed.
  virtual uint64_t decode_bytes_per_token() const = 0;
  // A zero state (the start of a document).
  virtual State new_state() const = 0;

  // Feeds tokens through the sequence path (projections as matrix products over each chunk of
  // tokens, the WKV recurrence in a kernel), updating `state`. A single token takes the same code
  // with one row: the step path.
  virtual void forward(std::span<const int32_t> tokens, State& state, Logits which, float* out) = 0;

  // One token: the RNN step. `logits` receives [vocab] (may be null).
  void step(int32_t token, State& state, float* logits) {
    forward(std::span<const int32_t>(&token, 1), state, logits ? Logits::Last : Logits::None, logits);
  }
};

}  // namespace rwkv
