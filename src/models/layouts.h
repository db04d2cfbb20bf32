// Checkpoint layouts: the same RWKV weights under different names, shapes and encodings. The
// loader brings every layout to the official BlinkDL one (names, shapes, values) before it
// detects the architecture, so each model file binds one set of names. docs/FORMATS.md lists
// every rule.
//
//  - Official (.pth / .safetensors from BlinkDL): used as is.
//  - Hugging Face / candle (`rwkv.blocks.0.attention.time_mix_key`, ...): renamed, table-driven;
//    the shapes are the official ones. Its config.json is checked against the tensors.
//  - rwkv.cpp .bin: rwkv.cpp's converter squeezes, transposes and repacks some tensors; every
//    step is undone.
//  - llama.cpp GGUF (general.architecture rwkv6 / rwkv7; blk.N.time_mix_*): renamed, the packed
//    mixes split, the LoRAs transposed back, llama.cpp's fp16 rescaling undone (gguf_layout.cpp).
//  - Our own GGUF (`rwkv quantize`) and candle's quantized GGUF use the official / Hugging Face
//    names and shapes, so they take those routes; quantized matrices stay quantized everywhere. One value encoding is kept instead of undone: RWKV-5.2 `time_decay` is stored
//    as the decay exp(-exp(w)) itself, and becomes `blocks.N.att.time_decay_factor` (H, N): the
//    exact number rwkv.cpp and the official code multiply the state by, where recovering w =
//    log(-log(decay)) would round it (~3e-8).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/model.h"
#include "tensor/tensor_map.h"

namespace rwkv {

enum class Layout { Official, HuggingFace, RwkvCpp, LlamaCpp };
std::string_view layout_name(Layout l);

// Renames/reshapes/re-encodes `t` in place into the official layout; returns the layout found.
// Throws Error for files we recognise but cannot use.
Layout normalize_layout(TensorMap& t);

// The rwkv.cpp part of normalize_layout (rwkvcpp_layout.cpp).
void undo_rwkvcpp_conversion(TensorMap& t);
// The llama.cpp part (gguf_layout.cpp): a GGUF with llama.cpp's token_embd / blk.N names.
bool is_llamacpp_gguf(const TensorMap& t);
void undo_llamacpp_conversion(TensorMap& t);

// Hugging Face config.json (hf_config.cpp): the config.json beside `weights_path`, or "" when
// there is none; and the check of a config's values against what the tensors say. A config that
// contradicts the tensors is an error naming the field, its value and the tensors' value.
std::string find_hf_config(const std::string& weights_path);
void check_hf_config(const std::string& config_path, const HParams& hp, const std::string& weights_source);

// Small TensorMap edits shared by the layout steps (layout_edits.cpp). Renames and reshapes keep
// the bytes where they are; `replace_bytes` installs a converted copy; transposes copy, and widen
// a quantized tensor to f32 first (blocks cannot be transposed).
void rename_tensor(TensorMap& t, const std::string& from, const std::string& to);
void reshape_tensor(TensorMap& t, const std::string& name, const Shape& shape);  // same element count
void replace_bytes(TensorMap& t, const std::string& name, const Shape& shape, std::vector<std::byte> bytes);
void widen_to_f32(TensorMap& t, const std::string& name);  // a quantized tensor -> f32; floats unchanged
void transpose_2d(TensorMap& t, const std::string& name);        // (d0, d1) -> (d1, d0)
void transpose_last_two(TensorMap& t, const std::string& name);  // (n, d1, d2) -> (n, d2, d1)
// A (n, 1, .., C) tensor of n stacked vectors -> n tensors `parts[i]` of shape (1, 1, C), views
// of its bytes.
void split_stacked(TensorMap& t, const std::string& name, const std::vector<std::string>& parts);

}  // namespace rwkv
