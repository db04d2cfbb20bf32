// rwkv logits: the logits after each token of a token list, from a zero state, as raw
// little-endian float32 [T][vocab]. The contract tests and outside checks rely on (DESIGN.md).
#include <cstring>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "util/error.h"

namespace rwkv::cli {

int cmd_logits(int argc, char** argv) {
  CLI::App app("Write the logits after each token, as little-endian float32 [T][vocab].", "logits");
  std::vector<std::string> weights;
  std::string tokens, out, dtype, mode = "seq", arch, config_file;
  int threads = 0;
  int64_t chunk = ModelOptions{}.chunk_size;
  bool fast = false;
  DeviceFlags device;
  app.add_option("--weights,--weight-files", weights, "model file(s), comma-separated or repeated")->required();
  app.add_option("--tokens", tokens, "token ids, comma-separated")->required();
  app.add_option("--out", out, "output file (float32 [T][vocab])")->required();
  app.add_option("--dtype", dtype, "weight dtype at run time: f32, f16, bf16, or quantized at load: q8_0, q6_k, q5_1, q5_0, q5_k, q4_1, q4_0, q4_k (default: as stored in the file)");
  app.add_option("--mode", mode, "seq: the sequence path (chunks); rnn: one token at a time")
      ->check(CLI::IsMember({"seq", "rnn"}))
      ->capture_default_str();
  app.add_option("--threads", threads, "threads (0 = one per physical core)")->capture_default_str();
  app.add_option("--chunk-size", chunk, "tokens per sequence-path chunk")->capture_default_str();
  app.add_option("--arch", arch, "override the detected architecture: rwkv5, rwkv6, rwkv7, rwkv7a, rwkv7b");
  app.add_option("--config-file", config_file, "Hugging Face config.json (v5/v6 HF layout)");
  app.add_flag("--fast", fast,
               "reduced-precision activations as in text generation (bf16 / 8-bit in some matrix products): "
               "faster, not exact");
  add_device_flags(app, device);
  if (auto rc = parse_args(app, argc, argv)) return *rc;

  ModelOptions opt;
  if (!dtype.empty()) opt.dtype = parse_dtype_flag(dtype);
  if (!arch.empty()) opt.arch = parse_arch_flag(arch);
  if (threads < 0) throw UsageError("--threads must be >= 0, got {}", threads);
  if (chunk < 1) throw UsageError("--chunk-size must be >= 1, got {}", chunk);
  opt.threads = threads;
  opt.device = device.resolve();
  opt.chunk_size = chunk;
  opt.config_file = config_file;
  opt.fast_activations = fast;
  const std::vector<int32_t> ids = parse_id_list(tokens, "--tokens");

  auto model = Model::load(split_files(weights), opt);
  const int64_t V = model->hparams().vocab;
  std::vector<float> logits(ids.size() * static_cast<size_t>(V));
  State state = model->new_state();
  if (mode == "seq") {
    model->forward(ids, state, Logits::All, logits.data());
  } else {
    for (size_t t = 0; t < ids.size(); ++t) model->step(ids[t], state, logits.data() + t * static_cast<size_t>(V));
  }
  static_assert(std::endian::native == std::endian::little, "logits files are little-endian float32");
  write_file_atomic(out, std::as_bytes(std::span<const float>(logits)));
  return 0;
}

}  // namespace rwkv::cli
