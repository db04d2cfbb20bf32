// The Hugging Face config.json of an RWKV-5/6 checkpoint (candle's rwkv_v5::Config, HF's
// configuration_rwkv5.py). The tensors carry every hyper-parameter, so the config is only
// checked: a value that contradicts the tensors is an error, since a config and weights that
// disagree are most likely not one model. Fields and conventions:
//   vocab_size, hidden_size, num_hidden_layers, attention_hidden_size (= hidden_size),
//   head_size, intermediate_size (may be null), model_type ("rwkv5", "rwkv6", ...);
//   num_attention_heads holds the head SIZE (HF RWKV5 convention; candle's State::new uses
//   hidden_size / num_attention_heads heads), not the head count.
// Ignored: layer_norm_epsilon (the official code uses 1e-5), rescale_every (an fp16 trick, off in
// fp32), head_size_divisor (folded into the ln_x eps 64e-5), token ids, torch_dtype.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/layouts.h"
#include "util/error.h"

namespace rwkv {

namespace {

std::string_view model_type_of(Arch a) {
  switch (a) {
    case Arch::Rwkv5: return "rwkv5";
    case Arch::Rwkv6: return "rwkv6";
    case Arch::Rwkv7:
    case Arch::Rwkv7a:
    case Arch::Rwkv7b: return "rwkv7";
  }
  return "";
}

}  // namespace

std::string find_hf_config(const std::string& weights_path) {
  namespace fs = std::filesystem;
  const fs::path p = fs::path(weights_path).parent_path() / "config.json";
  std::error_code ec;
  return fs::is_regular_file(p, ec) ? p.string() : std::string();
}

void check_hf_config(const std::string& path, const HParams& hp, const std::string& weights_source) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("{}: cannot read the config file", path);
  std::stringstream ss;
  ss << f.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw Error("{}: not valid JSON: {}", path, e.what());
  }
  if (!j.is_object()) throw Error("{}: not a JSON object", path);

  // An integer field that must equal what the tensors say (absent or null: nothing to check).
  auto check = [&](const char* key, int64_t actual, std::string_view what, std::string_view note = {}) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_number_integer())
      throw Error("{}: \"{}\" is {}, expected an integer", path, key, j[key].dump());
    const int64_t v = j[key].get<int64_t>();
    if (v != actual)
      throw Error("{}: \"{}\" is {}, but the weights ({}) have {} = {}{}", path, key, v, weights_source, what, actual,
                  note);
  };
  check("vocab_size", hp.vocab, "vocab");
  check("hidden_size", hp.n_embd, "n_embd");
  check("num_hidden_layers", hp.n_layer, "n_layer");
  check("attention_hidden_size", hp.n_embd, "attention width (n_embd)");
  check("head_size", hp.head_size, "head_size");
  check("num_attention_heads", hp.head_size, "head_size",
        fmt::format(" ({} heads; in HF RWKV configs num_attention_heads holds the head size)", hp.n_head));
  check("intermediate_size", hp.dim_ffn, "dim_ffn");

  if (j.contains("model_type") && j["model_type"].is_string()) {
    const std::string type = j["model_type"].get<std::string>();
    if (type != model_type_of(hp.arch))
      throw Error("{}: \"model_type\" is \"{}\", but the weights ({}) are those of {} (model_type \"{}\")", path, type,
                  weights_source, arch_name(hp.arch), model_type_of(hp.arch));
  }
}

}  // namespace rwkv
