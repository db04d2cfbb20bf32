// rwkv make-model: a random-weight checkpoint with the exact names and shapes of a released
// model, for benchmarks (real weights cannot be downloaded everywhere, and the values do not
// change the speed).
#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "io/writers.h"
#include "models/checkpoint_layout.h"
#include "models/random_weights.h"
#include "util/error.h"

namespace rwkv::cli {

int cmd_make_model(int argc, char** argv) {
  CLI::App app("Write a random-weight checkpoint with the names and shapes of a released RWKV model.", "make-model");
  std::string arch = "rwkv7", size = "0.1b", dtype = "bf16", out;
  uint64_t seed = 1;
  int64_t layers = 0, vocab = 0;
  app.add_option("--arch", arch, "rwkv5, rwkv6, rwkv7, rwkv7a, rwkv7b")->capture_default_str();
  app.add_option("--size", size, "0.1b, 0.4b, 1.5b, 2.9b, 7.2b, 13.3b")->capture_default_str();
  app.add_option("--dtype", dtype, "bf16, f16 or f32")->capture_default_str();
  app.add_option("--out", out, "output file: .pth (PyTorch zip) or .safetensors")->required();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--layers", layers, "override the layer count (smaller test models)");
  app.add_option("--vocab", vocab, "override the vocabulary size");
  if (auto rc = parse_args(app, argc, argv)) return *rc;

  HParams hp = standard_hparams(parse_arch_flag(arch), size);
  if (layers < 0 || vocab < 0) throw UsageError("--layers and --vocab must be positive");
  if (layers) hp.n_layer = layers;
  if (vocab) hp.vocab = vocab;
  const DType d = parse_dtype_flag(dtype);
  if (dtype_is_quantized(d))
    throw UsageError("--dtype {}: make-model writes float checkpoints (bf16, f16, f32); quantize one with `rwkv quantize`",
                     dtype);
  const auto sources = random_checkpoint(hp, d, seed);
  uint64_t params = 0;
  for (const auto& s : sources) params += static_cast<uint64_t>(shape_numel(s.shape));

  const bool pth = out.size() > 4 && out.compare(out.size() - 4, 4, ".pth") == 0;
  const bool st = out.size() > 12 && out.compare(out.size() - 12, 12, ".safetensors") == 0;
  if (!pth && !st) throw UsageError("--out: the file name must end in .pth or .safetensors, got '{}'", out);
  fmt::print(stderr, "make-model: {} {} ({} layers x {}, {:.3f} B parameters, {}) -> {}\n", arch, size, hp.n_layer,
             hp.n_embd, static_cast<double>(params) / 1e9, dtype_name(d), out);
  if (pth) write_pth(out, sources);
  else write_safetensors(out, sources);
  return 0;
}

}  // namespace rwkv::cli
