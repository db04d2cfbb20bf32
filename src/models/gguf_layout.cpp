// Undoes llama.cpp's RWKV-6/RWKV-7 GGUF conversion (convert_hf_to_gguf.py / conversion/rwkv.py),
// so a llama.cpp GGUF reads like the official checkpoint it was made from. The reader has already
// reversed each ggml ne[] into PyTorch order. Per layer N (blk.N.*; docs/FORMATS.md has the table):
//   both:  token_embd -> emb; token_embd_norm -> blocks.0.ln0 (applied at run time, not folded);
//          attn_norm / attn_norm_2 -> ln1 / ln2; output_norm -> ln_out; output -> head;
//          time_mix_{key,value,receptance,output,gate} -> att.*.weight; time_mix_ln -> att.ln_x;
//          channel_mix_{key,value,receptance} -> ffn.*.weight; 1-D vectors -> (1, 1, C)
//   v7:    time_mix_lerp_fused (6,1,1,C) in the order r,w,k,v,a,g -> att.x_r .. x_g;
//          LoRAs w1..g2 stored transposed -> transposed back; r_k (H*N) -> (H, N);
//          layer 0's v0/v1/v2 (dummy copies of a0/a1/a2) dropped
//   v6:    time_mix_lerp_x -> time_maa_x; time_mix_lerp_fused (5,1,1,C) in the order w,k,v,r,g;
//          time_mix_w1 (5D, C) and decay_w1/w2 transposed back; time_mix_w2 (5, C, D) -> (5, D, C);
//          time_mix_first -> time_faaaa; time_mix_decay -> time_decay;
//          rescale_every_n_layers > 0: the converter divided time_mix_output and
//          channel_mix_value of layer N by 2^(N / n), and llama.cpp halves the residual stream
//          every n layers; we multiply those weights back (exactly: a power of two on the block
//          scales) and run the model unscaled.
// Quantized matrices stay quantized; the few tensors that must be transposed or split are widened
// to f32 first (layout_edits.cpp).
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "models/architectures.h"
#include "models/layouts.h"
#include "tensor/convert.h"
#include "tensor/quant.h"
#include "util/error.h"

namespace rwkv {

namespace {

struct Rename {
  const char* from;
  const char* to;
};

constexpr Rename kTopLevel[] = {
    {"token_embd.weight", "emb.weight"},
    {"token_embd_norm.weight", "blocks.0.ln0.weight"},
    {"token_embd_norm.bias", "blocks.0.ln0.bias"},
    {"output_norm.weight", "ln_out.weight"},
    {"output_norm.bias", "ln_out.bias"},
    {"output.weight", "head.weight"},
};

// Per layer, after "blk.N." -> "blocks.N.": renames that keep shape and bytes.
constexpr Rename kLayerCommon[] = {
    {"attn_norm.weight", "ln1.weight"},
    {"attn_norm.bias", "ln1.bias"},
    {"attn_norm_2.weight", "ln2.weight"},
    {"attn_norm_2.bias", "ln2.bias"},
    {"time_mix_key.weight", "att.key.weight"},
    {"time_mix_value.weight", "att.value.weight"},
    {"time_mix_receptance.weight", "att.receptance.weight"},
    {"time_mix_output.weight", "att.output.weight"},
    {"time_mix_gate.weight", "att.gate.weight"},
    {"time_mix_ln.weight", "att.ln_x.weight"},
    {"time_mix_ln.bias", "att.ln_x.bias"},
    {"channel_mix_key.weight", "ffn.key.weight"},
    {"channel_mix_value.weight", "ffn.value.weight"},
    {"channel_mix_receptance.weight", "ffn.receptance.weight"},
};

// 1-D vectors that the official layout keeps as (1, 1, C).
constexpr Rename kVectors7[] = {
    {"time_mix_w0.weight", "att.w0"},     {"time_mix_a0.weight", "att.a0"},
    {"time_mix_v0.weight", "att.v0"},     {"time_mix_k_k.weight", "att.k_k"},
    {"time_mix_k_a.weight", "att.k_a"},   {"channel_mix_lerp_k.weight", "ffn.x_k"},
};
constexpr Rename kVectors6[] = {
    {"time_mix_lerp_x.weight", "att.time_maa_x"},
    {"time_mix_decay.weight", "att.time_decay"},
    {"channel_mix_lerp_k.weight", "ffn.time_maa_k"},
    {"channel_mix_lerp_r.weight", "ffn.time_maa_r"},
};

std::string need_meta(const TensorMap& t, const std::string& key) {
  auto it = t.metadata().find(key);
  if (it == t.metadata().end()) throw Error("{}: GGUF metadata '{}' is missing", t.source(), key);
  return it->second;
}

int64_t meta_int(const TensorMap& t, const std::string& key) {
  const std::string v = need_meta(t, key);
  try {
    size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  throw Error("{}: GGUF metadata '{}' is '{}', expected an integer", t.source(), key, v);
}

void rename_if(TensorMap& t, const std::string& from, const std::string& to) {
  if (t.contains(from)) rename_tensor(t, from, to);
}

void to_vector(TensorMap& t, const std::string& from, const std::string& to) {
  if (!t.contains(from)) return;
  rename_tensor(t, from, to);
  reshape_tensor(t, to, {1, 1, t.get(to).numel()});
}

void transpose_as(TensorMap& t, const std::string& from, const std::string& to) {
  if (!t.contains(from)) return;
  rename_tensor(t, from, to);
  transpose_2d(t, to);
}

// Multiplies a weight by 2^e exactly, keeping its dtype: the block scales of quantized tensors,
// the values of float ones. Where that would leave the dtype's range, the tensor becomes f32.
void scale_pow2(TensorMap& t, const std::string& name, int e) {
  const TensorView& v = t.get(name);
  const Shape shape = v.shape;
  std::vector<std::byte> bytes(v.bytes.begin(), v.bytes.end());
  bool exact;
  if (dtype_is_quantized(v.dtype)) {
    exact = quant::scale_pow2(v.dtype, bytes.data(), v.numel(), e);
  } else {
    std::vector<float> f = tensor_to_f32(v);
    for (float& x : f) x = std::ldexp(x, e);
    bytes = convert_rows(DType::F32, reinterpret_cast<const std::byte*>(f.data()), v.numel() / shape.back(),
                         shape.back(), v.dtype);
    const std::vector<float> back = tensor_to_f32(TensorView{name, v.dtype, shape, bytes});
    exact = back == f;
  }
  if (exact) return replace_bytes(t, name, shape, std::move(bytes));
  std::vector<float> f = tensor_to_f32(v);
  for (float& x : f) x = std::ldexp(x, e);
  t.erase(name);
  t.add_owned(name, DType::F32, shape, std::vector<std::byte>(reinterpret_cast<const std::byte*>(f.data()),
                                                              reinterpret_cast<const std::byte*>(f.data() + f.size())));
}

void undo_layer(TensorMap& t, int64_t layer, bool v7, int64_t head_size, int64_t rescale_every) {
  const std::string g = fmt::format("blk.{}.", layer), b = fmt::format("blocks.{}.", layer), a = b + "att.";
  for (const Rename& r : kLayerCommon) rename_if(t, g + r.from, b + r.to);
  if (v7) {
    for (const Rename& r : kVectors7) to_vector(t, g + r.from, b + r.to);
    split_stacked(t, g + "time_mix_lerp_fused.weight", {a + "x_r", a + "x_w", a + "x_k", a + "x_v", a + "x_a", a + "x_g"});
    if (layer == 0) {  // the converter's dummy copies of a0/a1/a2 (layer 0 has no value residual)
      t.erase(a + "v0");
      t.erase(g + "time_mix_v1.weight");
      t.erase(g + "time_mix_v2.weight");
    }
    for (const char* n : {"w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"})
      transpose_as(t, fmt::format("{}time_mix_{}.weight", g, n), a + n);
    const std::string rk = g + "time_mix_r_k.weight";
    if (t.contains(rk)) {
      const int64_t n = t.get(rk).numel();
      if (head_size < 1 || n % head_size != 0)
        throw Error("{}: {} has {} values, not a whole number of heads of {} (rwkv7.wkv.head_size)", t.source(), rk, n,
                    head_size);
      rename_tensor(t, rk, a + "r_k");
      reshape_tensor(t, a + "r_k", {n / head_size, head_size});
    }
  } else {
    for (const Rename& r : kVectors6) to_vector(t, g + r.from, b + r.to);
    const std::string fused = g + "time_mix_lerp_fused.weight";
    if (t.contains(fused)) {
      split_stacked(t, fused, {a + "time_maa_w", a + "time_maa_k", a + "time_maa_v", a + "time_maa_r", a + "time_maa_g"});
    } else {  // older conversions stored the five mixes separately
      for (const char* m : {"w", "k", "v", "r", "g"})
        to_vector(t, fmt::format("{}time_mix_lerp_{}.weight", g, m), a + "time_maa_" + m);
    }
    transpose_as(t, g + "time_mix_w1.weight", a + "time_maa_w1");
    if (t.contains(g + "time_mix_w2.weight")) {
      rename_tensor(t, g + "time_mix_w2.weight", a + "time_maa_w2");
      transpose_last_two(t, a + "time_maa_w2");
    }
    transpose_as(t, g + "time_mix_decay_w1.weight", a + "time_decay_w1");
    transpose_as(t, g + "time_mix_decay_w2.weight", a + "time_decay_w2");
    rename_if(t, g + "time_mix_first.weight", a + "time_faaaa");
    if (rescale_every > 0 && layer / rescale_every > 0) {
      const int e = static_cast<int>(layer / rescale_every);
      for (const std::string& name : {a + "output.weight", b + "ffn.value.weight"})
        if (t.contains(name)) scale_pow2(t, name, e);
    }
  }
  // Anything left under blk.N. is a tensor this layout does not have: say which.
  for (const std::string& name : t.names())
    if (name.rfind(g, 0) == 0)
      throw Error("{}: unexpected tensor '{}' in a llama.cpp {} GGUF", t.source(), name, v7 ? "rwkv7" : "rwkv6");
}

}  // namespace

bool is_llamacpp_gguf(const TensorMap& t) {
  return t.metadata().count("gguf.version") && (t.contains("token_embd.weight") || t.contains("blk.0.attn_norm.weight"));
}

void undo_llamacpp_conversion(TensorMap& t) {
  const std::string arch = need_meta(t, "general.architecture");
  if (arch != "rwkv6" && arch != "rwkv7")
    throw Error("{}: a llama.cpp GGUF of architecture '{}'; we read llama.cpp's rwkv6 and rwkv7 files (hybrids such as "
                "rwkv6qwen2 and arwkv7 are other models)",
                t.source(), arch);
  const bool v7 = arch == "rwkv7";
  const int64_t head_size = meta_int(t, arch + ".wkv.head_size");
  int64_t rescale_every = 0;
  if (!v7 && t.metadata().count("rwkv6.rescale_every_n_layers"))
    rescale_every = meta_int(t, "rwkv6.rescale_every_n_layers");
  for (const Rename& r : kTopLevel) rename_if(t, r.from, r.to);
  int64_t n_layer = 0;
  while (t.contains(fmt::format("blk.{}.attn_norm.weight", n_layer))) ++n_layer;
  if (n_layer == 0) throw Error("{}: a llama.cpp {} GGUF without blk.0.attn_norm.weight", t.source(), arch);
  const int64_t block_count = meta_int(t, arch + ".block_count");
  if (block_count != n_layer)
    throw Error("{}: {}.block_count is {}, but the file has blk.0 .. blk.{}", t.source(), arch, block_count,
                n_layer - 1);
  for (int64_t i = 0; i < n_layer; ++i) undo_layer(t, i, v7, head_size, rescale_every);
  t.metadata()["llamacpp.arch"] = arch;
}

}  // namespace rwkv
