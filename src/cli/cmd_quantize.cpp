// rwkv quantize: any checkpoint we read (.pth, .safetensors, rwkv.cpp .bin, llama.cpp or candle
// GGUF) -> our GGUF: official tensor names and shapes (blocks.N.att.key.weight, ...), the matrices
// quantized with ggml's reference quantizers, and `rwkv.arch` naming the architecture. Which
// tensors are quantized is models/quant_policy.h, the same rule `--dtype q*` applies at load, so
// this file gives exactly the logits of quantizing at load. docs/FORMATS.md describes the file.
#include <fmt/format.h>

#include <filesystem>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "io/gguf_writer.h"
#include "models/architectures.h"
#include "models/quant_policy.h"
#include "tensor/convert.h"
#include "tensor/quant.h"
#include "util/error.h"

namespace rwkv::cli {

namespace {

// The dtype each tensor is written in.
DType output_dtype(const TensorView& t, DType want) {
  if (is_quantizable_tensor(t.name, t.shape))
    if (auto q = quantized_type_for(want, t.shape.back())) return *q;
  return float_dtype_of(t.dtype);
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  CLI::App app("Quantize a checkpoint into a GGUF file with the official tensor names.", "quantize");
  std::vector<std::string> in;
  std::string out, type, arch, config_file;
  app.add_option("--in", in, "model file(s) in any format we read, comma-separated or repeated")->required();
  app.add_option("--out", out, "output file (.gguf)")->required();
  app.add_option("--type", type, "q8_0, q6_k, q5_1, q5_0, q5_k, q4_1, q4_0 or q4_k")->required();
  app.add_option("--arch", arch, "override the detected architecture: rwkv5, rwkv6, rwkv7, rwkv7a, rwkv7b");
  app.add_option("--config-file", config_file, "Hugging Face config.json (v5/v6 HF layout)");
  if (auto rc = parse_args(app, argc, argv)) return *rc;

  DType want;
  if (!parse_dtype(type, &want) || !quant::can_quantize(want))
    throw UsageError("--type: '{}' is not a type we quantize to (q8_0, q6_k, q5_1, q5_0, q5_k, q4_1, q4_0, q4_k)", type);
  if (out.size() < 5 || out.compare(out.size() - 5, 5, ".gguf") != 0)
    throw UsageError("--out: the file name must end in .gguf, got '{}'", out);
  ModelOptions options;
  if (!arch.empty()) options.arch = parse_arch_flag(arch);
  options.config_file = config_file;
  const std::vector<std::string> files = split_files(in);
  for (const std::string& f : files) {
    std::error_code ec;  // `out` usually does not exist yet: then it is not an input
    if (std::filesystem::equivalent(f, out, ec)) throw UsageError("--out {} is also an input file", out);
  }

  const Checkpoint c = open_checkpoint(files, options);
  std::vector<TensorSource> sources;
  uint64_t in_bytes = 0, out_bytes = 0;
  int quantized = 0, requantized = 0;
  std::vector<std::string> kept_float;
  for (const std::string& name : c.tensors.names()) {
    const TensorView* t = &c.tensors.get(name);
    const DType to = output_dtype(*t, want);
    if (dtype_is_quantized(to)) ++quantized;
    if (dtype_is_quantized(to) && dtype_is_quantized(t->dtype) && to != t->dtype) ++requantized;
    if (is_quantizable_tensor(name, t->shape) && !dtype_is_quantized(to)) kept_float.push_back(name);
    in_bytes += t->bytes.size();
    out_bytes += static_cast<uint64_t>(t->numel() / t->shape.back() * dtype_row_bytes(to, t->shape.back()));
    sources.push_back({name, to, t->shape, [t, to](std::span<std::byte> dst) {
                         const int64_t cols = t->shape.back();
                         const auto bytes = convert_rows(t->dtype, t->bytes.data(), t->numel() / cols, cols, to);
                         std::copy(bytes.begin(), bytes.end(), dst.begin());
                       }});
  }
  if (requantized)
    fmt::print(stderr, "quantize: warning: {} matrices were already quantized in {} and are quantized again to {} "
                       "(the errors add up; quantize from the float checkpoint if you have it)\n",
               requantized, files.front(), dtype_name(want));
  if (!kept_float.empty())
    fmt::print(stderr, "quantize: {} matrices have rows that are not whole blocks of {} and stay float (e.g. {})\n",
               kept_float.size(), dtype_name(want), kept_float.front());

  const GgufMetadata metadata = {
      {"general.architecture", std::string("rwkv")},  // not a llama.cpp architecture: these are official names
      {"general.name", std::filesystem::path(files.front()).stem().string()},
      {"general.quantization_version", uint32_t{2}},  // ggml's current block formats
      {kArchKey, std::string(arch_name(c.hp.arch))},
      {"rwkv.layout", std::string("official")},
      {"rwkv.quantized_type", std::string(dtype_name(want))},
      {"rwkv.source", std::filesystem::path(files.front()).filename().string()},
  };
  write_gguf(out, sources, metadata);
  fmt::print(stderr, "quantize: {} {} layers x {} ({} layout): {} tensors, {} quantized to {}; {:.1f} MB -> {:.1f} MB: {}\n",
             arch_name(c.hp.arch), c.hp.n_layer, c.hp.n_embd, layout_name(c.layout), sources.size(), quantized,
             dtype_name(want), static_cast<double>(in_bytes) / 1e6, static_cast<double>(out_bytes) / 1e6, out);
  return 0;
}

}  // namespace rwkv::cli
