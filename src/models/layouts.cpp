// Layout detection and the Hugging Face renaming (table-driven); rwkv.cpp's is in rwkvcpp_layout.cpp,
// llama.cpp's in gguf_layout.cpp.
#include "models/layouts.h"

#include <algorithm>
#include <span>
#include <vector>

#include "util/error.h"

namespace rwkv {

namespace {

struct Rename {
  std::string_view from, to;
};

// Hugging Face / candle names, after the optional "rwkv." model prefix.
constexpr Rename kHfTopLevel[] = {
    {"embeddings.weight", "emb.weight"},
};
// Parts of blocks.<i>.<part>...
constexpr Rename kHfBlockParts[] = {
    {"attention.", "att."},
    {"feed_forward.", "ffn."},
    {"pre_ln.", "ln0."},
};
// Parameter names inside att./ffn.: the token-shift mixes are spelt out. In the RWKV-6 conversion
// candle reads, `time_mix_*` hold the official `time_maa_*` values (x + (x_prev - x) * maa), so the
// same HF name maps to a different official one per version.
constexpr Rename kHfRwkv5Params[] = {
    {"time_mix_key", "time_mix_k"},
    {"time_mix_value", "time_mix_v"},
    {"time_mix_receptance", "time_mix_r"},
    {"time_mix_gate", "time_mix_g"},
};
constexpr Rename kHfRwkv6Params[] = {
    {"time_mix_x", "time_maa_x"},     {"time_mix_w", "time_maa_w"},
    {"time_mix_key", "time_maa_k"},   {"time_mix_value", "time_maa_v"},
    {"time_mix_receptance", "time_maa_r"}, {"time_mix_gate", "time_maa_g"},
    {"time_mix_w1", "time_maa_w1"},   {"time_mix_w2", "time_maa_w2"},
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

bool is_hf_name(std::string_view n) {
  return starts_with(n, "rwkv.") || n == "embeddings.weight" || n.find(".attention.") != std::string_view::npos ||
         n.find(".feed_forward.") != std::string_view::npos;
}

// The official name of one HF tensor.
std::string hf_to_official(std::string_view name, bool rwkv6) {
  std::string_view n = name;
  if (starts_with(n, "rwkv.")) n.remove_prefix(5);
  for (const Rename& r : kHfTopLevel)
    if (n == r.from) return std::string(r.to);
  if (!starts_with(n, "blocks.")) return std::string(n);  // ln_out.*, head.weight
  // blocks.<i>.<part><param>
  const size_t dot = n.find('.', 7);
  if (dot == std::string_view::npos) return std::string(n);
  std::string out(n.substr(0, dot + 1));
  std::string_view rest = n.substr(dot + 1);
  for (const Rename& r : kHfBlockParts) {
    if (starts_with(rest, r.from)) {
      out += r.to;
      rest.remove_prefix(r.from.size());
      break;
    }
  }
  const auto params = rwkv6 ? std::span<const Rename>(kHfRwkv6Params) : std::span<const Rename>(kHfRwkv5Params);
  for (const Rename& r : params)
    if (rest == r.from) return out + std::string(r.to);
  return out + std::string(rest);
}

void normalize_hf(TensorMap& t) {
  const std::vector<std::string> names = t.names();
  const bool rwkv6 = std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return ends_with(n, "attention.time_mix_x") || ends_with(n, "attention.time_mix_w1") ||
           ends_with(n, "attention.time_maa_x");
  });
  for (const std::string& n : names) {
    const std::string official = hf_to_official(n, rwkv6);
    if (official != n) rename_tensor(t, n, official);
  }
}

}  // namespace

std::string_view layout_name(Layout l) {
  switch (l) {
    case Layout::Official: return "official";
    case Layout::HuggingFace: return "Hugging Face";
    case Layout::RwkvCpp: return "rwkv.cpp";
    case Layout::LlamaCpp: return "llama.cpp GGUF";
  }
  return "unknown";
}

Layout normalize_layout(TensorMap& t) {
  if (t.metadata().count("rwkvcpp.version")) {
    undo_rwkvcpp_conversion(t);
    return Layout::RwkvCpp;
  }
  if (is_llamacpp_gguf(t)) {
    undo_llamacpp_conversion(t);
    return Layout::LlamaCpp;
  }
  const std::vector<std::string> names = t.names();
  if (std::any_of(names.begin(), names.end(), [](const std::string& n) { return is_hf_name(n); })) {
    normalize_hf(t);
    return Layout::HuggingFace;
  }
  return Layout::Official;
}

}  // namespace rwkv
