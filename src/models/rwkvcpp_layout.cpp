// Undoes rwkv.cpp's python/convert_pytorch_to_ggml.py, so an rwkv.cpp .bin reads like the official
// checkpoint it was made from. The reader (io/rwkvcpp_bin.cpp) has already reversed each ggml
// shape into PyTorch order. What the converter did, per version (rwkv.cpp's own detection: r_k ->
// 7, time_maa_x -> 6, ln_x + gate -> "5.2", ln_x -> "5.1", else 4):
//   all:  `.time_*` tensors squeezed ((1,1,C) -> (C))                 -> back to (1,1,C)
//   v5.2: time_decay -> exp(-exp(w)) (H,S,1), time_faaaa (H,S,1)      -> time_decay_factor (H,S), time_faaaa (H,S)
//   v6:   time_maa_w1, time_decay_w1/w2 transposed; time_maa_w2 transpose(1,2);
//         time_decay (1,1,C) -> (H,S,1); time_faaaa (H,S,1)            -> transposed back, (1,1,C), (H,S)
//   v7:   x_r, x_w, x_k, x_v, x_a, x_g concatenated to x_rwkvag (6,1,C); w1/w2, a1/a2, v1/v2,
//         g1/g2 transposed                                             -> split, transposed back
// RWKV-4 and 5.0 files are left alone: version detection then names them as unsupported.
#include <fmt/format.h>

#include <cstring>

#include "models/architectures.h"
#include "models/layouts.h"
#include "util/error.h"

namespace rwkv {

namespace {

// The shape left-padded with 1s to 3 dimensions (ggml pads ne[] with 1s, i.e. on the left in
// PyTorch order), so squeezed tensors of tiny models (one head) read the same.
Shape pad3(const Shape& s) {
  Shape out(s);
  while (out.size() < 3) out.insert(out.begin(), 1);
  return out;
}

std::string bad_shape(const TensorMap& t, const std::string& name, std::string_view expected) {
  return fmt::format("{}: tensor '{}' has shape {}, expected {} in an rwkv.cpp file", t.source(), name,
                     shape_str(t.get(name).shape), expected);
}

// (C) or (1,1,C) -> (1,1,C), for every name present.
void unsqueeze_mixes(TensorMap& t, const std::string& prefix, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    const std::string name = fmt::format("{}{}", prefix, n);
    if (t.contains(name)) reshape_tensor(t, name, {1, 1, t.get(name).numel()});
  }
}

// (H,S,1) -> (H,S); also (S,1) of a one-head model.
void per_head_to_2d(TensorMap& t, const std::string& name, const std::string& new_name) {
  const Shape s = pad3(t.get(name).shape);
  if (s.size() != 3 || s[2] != 1) throw Error("{}", bad_shape(t, name, "(heads, head_size, 1)"));
  reshape_tensor(t, name, {s[0], s[1]});
  if (new_name != name) rename_tensor(t, name, new_name);
}

void undo_rwkv5(TensorMap& t, int64_t layer) {
  const std::string a = fmt::format("blocks.{}.att.", layer), f = fmt::format("blocks.{}.ffn.", layer);
  unsqueeze_mixes(t, a, {"time_mix_k", "time_mix_v", "time_mix_r", "time_mix_g"});
  unsqueeze_mixes(t, f, {"time_mix_k", "time_mix_r"});
  // The decay was stored as exp(-exp(w)): keep that exact value under its own name.
  per_head_to_2d(t, a + "time_decay", a + "time_decay_factor");
  per_head_to_2d(t, a + "time_faaaa", a + "time_faaaa");
}

void undo_rwkv6(TensorMap& t, int64_t layer) {
  const std::string a = fmt::format("blocks.{}.att.", layer), f = fmt::format("blocks.{}.ffn.", layer);
  unsqueeze_mixes(t, a, {"time_maa_x", "time_maa_w", "time_maa_k", "time_maa_v", "time_maa_r", "time_maa_g"});
  unsqueeze_mixes(t, f, {"time_maa_k", "time_maa_r"});
  transpose_2d(t, a + "time_maa_w1");      // (5 Dm, C) -> (C, 5 Dm)
  transpose_last_two(t, a + "time_maa_w2");  // (5, C, Dm) -> (5, Dm, C)
  transpose_2d(t, a + "time_decay_w1");    // (Dd, C) -> (C, Dd)
  transpose_2d(t, a + "time_decay_w2");    // (C, Dd) -> (Dd, C)
  reshape_tensor(t, a + "time_decay", {1, 1, t.get(a + "time_decay").numel()});  // raw w, (H,S,1) -> (1,1,C)
  per_head_to_2d(t, a + "time_faaaa", a + "time_faaaa");
}

void undo_rwkv7(TensorMap& t, int64_t layer) {
  const std::string a = fmt::format("blocks.{}.att.", layer);
  // x_rwkvag (6,1,C) = x_r, x_w, x_k, x_v, x_a, x_g: six (1,1,C) views of the same bytes.
  split_stacked(t, a + "x_rwkvag", {a + "x_r", a + "x_w", a + "x_k", a + "x_v", a + "x_a", a + "x_g"});
  for (std::string_view n : {"w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"}) {
    const std::string name = fmt::format("{}{}", a, n);
    if (t.contains(name)) transpose_2d(t, name);  // layer 0 has no v1/v2
  }
}

}  // namespace

void undo_rwkvcpp_conversion(TensorMap& t) {
  auto& meta = t.metadata();
  // Quantized tensors stay as they are, except the few that must be transposed (the v6 LoRA
  // factors in Q4/Q5/Q8 files): transpose_2d widens those to f32 first.
  // The header's sizes must agree with the tensors.
  const TensorView& emb = t.get("emb.weight");
  const Shape want{std::stoll(meta.at("rwkvcpp.n_vocab")), std::stoll(meta.at("rwkvcpp.n_embed"))};
  if (emb.shape != want)
    throw Error("{}: the header says n_vocab {} and n_embed {}, but tensor 'emb.weight' has shape {}", t.source(),
                want[0], want[1], shape_str(emb.shape));
  const int64_t n_layer = count_layers(t);
  if (n_layer != std::stoll(meta.at("rwkvcpp.n_layer")))
    throw Error("{}: the header says n_layer {}, but the file has blocks 0..{}", t.source(),
                meta.at("rwkvcpp.n_layer"), n_layer - 1);

  // rwkv.cpp's own version detection; RWKV-4 and 5.0/5.1 are left alone (detection refuses them).
  void (*undo)(TensorMap&, int64_t) = nullptr;
  std::string_view arch = "4";
  if (t.contains("blocks.0.att.r_k")) {
    arch = "7";
    undo = undo_rwkv7;
  } else if (t.contains("blocks.0.att.time_maa_x")) {
    arch = "6";
    undo = undo_rwkv6;
  } else if (t.contains("blocks.0.att.ln_x.weight") && t.contains("blocks.0.att.gate.weight") &&
             t.contains("blocks.0.att.time_faaaa")) {
    arch = "5.2";
    undo = undo_rwkv5;
  } else if (t.contains("blocks.0.att.ln_x.weight")) {
    arch = "5.0/5.1";
  }
  meta.insert_or_assign("rwkvcpp.arch", std::string(arch));
  if (!undo) return;
  for (int64_t i = 0; i < n_layer; ++i) undo(t, i);
}

}  // namespace rwkv
