// Which weights a quantized dtype applies to, shared by `--dtype q8_0|q4_0|...` at load time
// (WeightBinder) and `rwkv quantize` (cli/cmd_quantize.cpp), so a file written by `rwkv quantize`
// holds exactly the weights that quantizing at load would make, and gives the same logits.
//
//  - Quantized: every 2-D tensor whose official name ends in `.weight`: the Linear matrices of
//    time-mix and channel-mix, the head, the 7a/7b projections (s_emb_x, qq, k_emb_x, v_emb_x),
//    and the tables gathered a row per token (emb, 7a/7b s_emb, k_emb, v_emb). They are ~95% of the
//    bytes; the head is the single largest matrix of small models.
//  - Not quantized: LoRA factors (v6 time_maa_w1/w2, time_decay_w1/w2; v7 w1..g2; 7a/7b s1, s2,
//    k1, k2, v1, v2), mixes, norms, decays, bonuses: small (~5% of v7's bytes), their ranks (2..64)
//    are often not whole blocks, and the decay LoRA feeds exp(-exp(.)), where errors compound.
//    They keep the file's float dtype (f32 when the file stored them quantized).
#pragma once

#include <optional>
#include <string_view>

#include "tensor/tensor_map.h"

namespace rwkv {

// Whether `rwkv quantize` / --dtype q* quantizes this tensor (official name and shape).
bool is_quantizable_tensor(std::string_view official_name, const Shape& shape);

// The type a row of `cols` weights gets when `want` (a quantized type) is asked for: `want` when
// the row is whole blocks of it; for K-quants whose rows are not whole 256-blocks, llama.cpp's
// fallback (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0); nullopt when not even 32-blocks fit (the
// matrix stays float).
std::optional<DType> quantized_type_for(DType want, int64_t cols);

// The float dtype a weight keeps when it is not quantized: its own if float, else f32.
DType float_dtype_of(DType stored);

}  // namespace rwkv
