// The ggml block types: dequantization of hand-built blocks (values worked out from the block
// layout, independently of the code under test), the reference quantizers on hand-computed
// inputs, round-trip error bounds, and byte equality with files llama-quantize wrote.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "io/readers.h"
#include "support/fixtures.h"
#include "tensor/convert.h"
#include "tensor/quant.h"

namespace rwkv::quant {
namespace {

constexpr uint16_t kHalfOne = 0x3C00, kHalfTwo = 0x4000, kHalfHalf = 0x3800, kHalfMinusOne = 0xBC00;

template <typename Block>
std::vector<float> dequant(DType t, const Block& b) {
  const int64_t n = dtype_block_size(t);
  EXPECT_EQ(static_cast<int64_t>(sizeof(Block)), dtype_block_bytes(t));
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, reinterpret_cast<const std::byte*>(&b), n, out.data());
  return out;
}

TEST(QuantBlocks, Q8_0) {
  BlockQ8_0 b{};
  b.d = 0x3400;  // 0.25
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 128);
  const auto y = dequant(DType::Q8_0, b);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.25f * static_cast<float>(j * 8 - 128)) << j;
}

TEST(QuantBlocks, Q4_0AndQ4_1) {
  BlockQ4_0 a{};
  a.d = kHalfTwo;
  for (int j = 0; j < 16; ++j) a.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = dequant(DType::Q4_0, a);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f * static_cast<float>(j - 8)) << j;  // low nibbles: weights 0..15
    EXPECT_EQ(y[j + 16], 2.0f * static_cast<float>(15 - j - 8)) << j;  // high nibbles: 16..31
  }
  BlockQ4_1 b{};
  b.d = kHalfHalf;
  b.m = kHalfMinusOne;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  y = dequant(DType::Q4_1, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>(j) - 1.0f) << j;
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(15 - j) - 1.0f) << j;
  }
}

TEST(QuantBlocks, Q5_0AndQ5_1) {
  BlockQ5_0 a{};
  a.d = kHalfOne;
  for (int j = 0; j < 16; ++j) a.qs[j] = static_cast<uint8_t>(j | (j << 4));
  const uint32_t high_half = 0xFFFF0000u;  // bit j = 5th bit of weight j: set for weights 16..31
  std::memcpy(a.qh, &high_half, 4);
  auto y = dequant(DType::Q5_0, a);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], static_cast<float>(j - 16)) << j;
    EXPECT_EQ(y[j + 16], static_cast<float>((j | 16) - 16)) << j;
  }
  BlockQ5_1 b{};
  b.d = kHalfHalf;
  b.m = kHalfTwo;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((15 - j) | (j << 4));
  const uint32_t low_half = 0x0000FFFFu;
  std::memcpy(b.qh, &low_half, 4);
  y = dequant(DType::Q5_1, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>((15 - j) | 16) + 2.0f) << j;
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(j) + 2.0f) << j;
  }
}

// Q4_K/Q5_K: 8 sub-blocks of 32; sub-block s has a 6-bit scale sc_s and min m_s (packed as in
// ggml: s < 4 in the low 6 bits of bytes s and s + 4; s >= 4 split over byte s + 4 and the top
// two bits of bytes s - 4 and s); its weights are the low (s even) or high (s odd) nibbles of
// qs[32 * (s / 2) ..], plus 16 if bit s of qh[l] is set (Q5_K).
template <typename Block>
void pack_k_scales(Block& b, const uint8_t sc[8], const uint8_t m[8]) {
  for (int s = 0; s < 8; ++s) {
    if (s < 4) {
      b.scales[s] |= sc[s];
      b.scales[s + 4] |= m[s];
    } else {
      b.scales[s + 4] = static_cast<uint8_t>((sc[s] & 0xF) | ((m[s] & 0xF) << 4));
      b.scales[s - 4] |= static_cast<uint8_t>((sc[s] >> 4) << 6);
      b.scales[s] |= static_cast<uint8_t>((m[s] >> 4) << 6);
    }
  }
}

TEST(QuantBlocks, Q4_KAndQ5_K) {
  const uint8_t sc[8] = {1, 2, 3, 63, 17, 33, 48, 5}, m[8] = {0, 7, 20, 63, 16, 40, 3, 60};
  BlockQ4_K a{};
  BlockQ5_K b{};
  a.d = b.d = kHalfOne;
  a.dmin = b.dmin = kHalfHalf;
  pack_k_scales(a, sc, m);
  pack_k_scales(b, sc, m);
  for (int i = 0; i < 256; ++i) {
    const int s = i / 32, l = i % 32, q = (i * 5) % 16;
    a.qs[32 * (s / 2) + l] |= static_cast<uint8_t>(q << (4 * (s & 1)));
    b.qs[32 * (s / 2) + l] |= static_cast<uint8_t>(q << (4 * (s & 1)));
    if (l % 3 == 0) b.qh[l] |= static_cast<uint8_t>(1 << s);
  }
  const auto y4 = dequant(DType::Q4_K, a), y5 = dequant(DType::Q5_K, b);
  for (int i = 0; i < 256; ++i) {
    const int s = i / 32, l = i % 32, q = (i * 5) % 16;
    const float d = static_cast<float>(sc[s]), mn = 0.5f * static_cast<float>(m[s]);
    EXPECT_EQ(y4[i], d * static_cast<float>(q) - mn) << i;
    EXPECT_EQ(y5[i], d * static_cast<float>(q + (l % 3 == 0 ? 16 : 0)) - mn) << i;
  }
}

// Q6_K: weight i has the 6-bit value v_i and the int8 scale scales[i / 16]. Within each half
// block of 128 (k = i % 128, part = k / 32, l = k % 32) the low 4 bits are a nibble of
// ql[64 * half + l + 32 * (part & 1)] (high nibble for parts 2, 3), the top 2 bits are bits
// 2 * part of qh[32 * half + l].
TEST(QuantBlocks, Q6_K) {
  BlockQ6_K b{};
  b.d = kHalfHalf;
  for (int i = 0; i < 16; ++i) b.scales[i] = static_cast<int8_t>(i * 9 - 70);
  for (int i = 0; i < 256; ++i) {
    const int v = (i * 7) % 64, half = i / 128, k = i % 128, part = k / 32, l = k % 32;
    b.ql[64 * half + l + 32 * (part & 1)] |= static_cast<uint8_t>((v & 0xF) << (part >= 2 ? 4 : 0));
    b.qh[32 * half + l] |= static_cast<uint8_t>((v >> 4) << (2 * part));
  }
  const auto y = dequant(DType::Q6_K, b);
  for (int i = 0; i < 256; ++i)
    EXPECT_EQ(y[i], 0.5f * static_cast<float>(b.scales[i / 16]) * static_cast<float>((i * 7) % 64 - 32)) << i;
}

// Q2_K: 16 sub-blocks of 16; weight i (half = i / 128, k = i % 128) takes 2 bits at shift
// 2 * (k / 32) of qs[32 * half + k % 32]; its sub-block is 8 * half + k / 16 ... in ggml's order
// (shift-major, then the two 16-byte halves of the 32 bytes).
TEST(QuantBlocks, Q2_K) {
  BlockQ2_K b{};
  b.d = kHalfOne;
  b.dmin = kHalfHalf;
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>((j % 16) | ((15 - j) << 4));
  for (int i = 0; i < 256; ++i) {
    const int half = i / 128, k = i % 128, q = (i / 3) % 4;
    b.qs[32 * half + k % 32] |= static_cast<uint8_t>(q << (2 * (k / 32)));
  }
  const auto y = dequant(DType::Q2_K, b);
  for (int i = 0; i < 256; ++i) {
    const int sub = i / 16, q = (i / 3) % 4;  // ggml's order makes sub-block = i / 16
    const uint8_t sc = b.scales[sub];
    EXPECT_EQ(y[i], static_cast<float>(sc & 0xF) * static_cast<float>(q) - 0.5f * static_cast<float>(sc >> 4)) << i;
  }
}

// Q3_K: every 6-bit scale 33 (low nibbles 1, high bits 2: scale 33 - 32 = 1); qs bytes 0b11100100
// give q = k / 32 for weight k of each half; a clear hmask bit subtracts 4.
TEST(QuantBlocks, Q3_K) {
  BlockQ3_K b{};
  b.d = kHalfTwo;
  for (int j = 0; j < 8; ++j) b.scales[j] = 0x11;
  for (int j = 8; j < 12; ++j) b.scales[j] = 0xAA;
  for (auto& q : b.qs) q = 0xE4;
  for (auto& h : b.hmask) h = 0x0F;  // bits 0..3: the first half block (shifts 0..6) keeps its high bit
  const auto y = dequant(DType::Q3_K, b);
  for (int i = 0; i < 256; ++i) {
    const int half = i / 128, q = (i % 128) / 32;
    EXPECT_EQ(y[i], 2.0f * static_cast<float>(q - (half == 0 ? 0 : 4))) << i;
  }
}

std::vector<std::byte> quantize(DType t, const std::vector<float>& x) {
  std::vector<std::byte> out(static_cast<size_t>(dtype_row_bytes(t, static_cast<int64_t>(x.size()))));
  quantize_row(t, x.data(), static_cast<int64_t>(x.size()), out.data());
  return out;
}

TEST(QuantReference, Q8_0HandComputed) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j * 8 - 127);  // amax 127: d = 1 exactly
  x[5] += 0.3f;
  x[6] -= 0.4f;
  const auto bytes = quantize(DType::Q8_0, x);
  BlockQ8_0 b;
  std::memcpy(&b, bytes.data(), sizeof b);
  EXPECT_EQ(b.d, kHalfOne);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b.qs[j], j * 8 - 127) << j;
}

TEST(QuantReference, Q4_0HandComputed) {
  // The value of largest magnitude is -16: d = -16 / -8 = 2, q_j = trunc(x_j / 2 + 8.5) capped at 15.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  const auto bytes = quantize(DType::Q4_0, x);
  BlockQ4_0 b;
  std::memcpy(&b, bytes.data(), sizeof b);
  EXPECT_EQ(b.d, kHalfTwo);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(b.qs[j] & 0xF, std::min(15, (j + 1) / 2)) << j;
    EXPECT_EQ(b.qs[j] >> 4, std::min(15, (j + 16 + 1) / 2)) << j;
  }
}

TEST(QuantReference, ZeroBlocksStayZero) {
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K}) {
    const std::vector<float> x(256, 0.0f);
    const auto bytes = quantize(t, x);
    std::vector<float> y(256, 1.0f);
    dequantize_row(t, bytes.data(), 256, y.data());
    for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
}

// Gaussian rows: the error of every weight is within half a quantization step (plus the f16
// rounding of the scale), and the relative RMS error is what the bit width promises.
TEST(QuantReference, RoundTripErrors) {
  struct Bound {
    DType t;
    double rel_rms;
  };
  // Measured on N(0, 1) rows of 4096 (seed 7), in this order: 0.0052, 0.0176, 0.0368, 0.0415,
  // 0.0355, 0.0771, 0.0843, 0.0705 (each bit less roughly doubles the error).
  const Bound bounds[] = {{DType::Q8_0, 0.0055}, {DType::Q6_K, 0.019}, {DType::Q5_1, 0.039}, {DType::Q5_0, 0.044},
                          {DType::Q5_K, 0.038}, {DType::Q4_1, 0.081}, {DType::Q4_0, 0.089}, {DType::Q4_K, 0.075}};
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(4096);
  for (float& v : x) v = dist(rng);
  for (const Bound& b : bounds) {
    const auto bytes = quantize(b.t, x);
    std::vector<float> y(x.size());
    dequantize_row(b.t, bytes.data(), static_cast<int64_t>(x.size()), y.data());
    double se = 0, sx = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      se += (x[i] - y[i]) * (x[i] - y[i]);
      sx += x[i] * x[i];
    }
    const double rel = std::sqrt(se / sx);
    EXPECT_LE(rel, b.rel_rms) << dtype_name(b.t);
    std::printf("%s relative RMS error %.4f\n", std::string(dtype_name(b.t)).c_str(), rel);
    RecordProperty(std::string(dtype_name(b.t)), std::to_string(rel));
    // Per weight: Q8_0 rounds to the nearest of 255 symmetric levels (half a step, plus 127 times
    // the f16 rounding of the step); Q4_0 maps the extreme to -8 steps, so the opposite extreme
    // clamps at +7 steps: up to one step.
    if (b.t == DType::Q8_0 || b.t == DType::Q4_0) {
      const float levels = b.t == DType::Q8_0 ? 127.0f : 8.0f, steps = b.t == DType::Q8_0 ? 0.57f : 1.01f;
      for (size_t blk = 0; blk < x.size() / 32; ++blk) {
        float amax = 0;
        for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[blk * 32 + j]));
        for (size_t j = 0; j < 32; ++j)
          ASSERT_LE(std::fabs(x[blk * 32 + j] - y[blk * 32 + j]), steps * amax / levels) << dtype_name(b.t);
      }
    }
  }
}

TEST(QuantReference, NonFiniteInputDoesNotCrash) {
  std::vector<float> x(256, 1.0f);
  x[3] = NAN;
  x[40] = INFINITY;
  x[77] = -INFINITY;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K})
    quantize(t, x);  // any bytes will do; UBSan (scripts/test) checks there is no undefined behaviour
}

TEST(QuantReference, ScalePow2IsExact) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(512);
  for (float& v : x) v = dist(rng);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K}) {
    auto bytes = quantize(t, x);
    std::vector<float> before(x.size()), after(x.size());
    dequantize_row(t, bytes.data(), 512, before.data());
    ASSERT_TRUE(scale_pow2(t, bytes.data(), 512, 3)) << dtype_name(t);
    dequantize_row(t, bytes.data(), 512, after.data());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(after[i], before[i] * 8.0f) << dtype_name(t) << " " << i;
    EXPECT_FALSE(scale_pow2(t, bytes.data(), 512, 40)) << "a scale past the f16 range must be refused";
  }
}

// llama-quantize (no importance matrix) made the fixture's Q8_0 and Q4_0 files from the F32 file
// with quantize_row_*_ref: ours must give the same bytes, tensor for tensor.
TEST(QuantReference, SameBytesAsLlamaQuantize) {
  for (auto [f32, quantized] : {std::pair{"rwkv7-tiny-F32", "rwkv7-tiny-Q8_0"}, std::pair{"rwkv7-tiny-F32", "rwkv7-tiny-Q4_0"},
                                std::pair{"tiny-7v0-834K-F32", "tiny-7v0-834K-Q8_0"}}) {
    RWKV_FIXTURE_OR_SKIP(src, std::string("gguf/") + f32 + ".gguf");
    RWKV_FIXTURE_OR_SKIP(ref, std::string("gguf/") + quantized + ".gguf");
    const TensorMap a = read_tensor_file(src.string()), b = read_tensor_file(ref.string());
    int compared = 0;
    for (const std::string& name : b.names()) {
      const TensorView& q = b.get(name);
      if (!dtype_is_quantized(q.dtype)) continue;
      const TensorView& x = a.get(name);
      const int64_t cols = x.shape.back();
      const auto ours = convert_rows(x.dtype, x.bytes.data(), x.numel() / cols, cols, q.dtype);
      ASSERT_EQ(ours.size(), q.bytes.size()) << name;
      EXPECT_EQ(std::memcmp(ours.data(), q.bytes.data(), ours.size()), 0) << quantized << ": " << name;
      ++compared;
    }
    EXPECT_GE(compared, 20) << quantized;
  }
}

}  // namespace
}  // namespace rwkv::quant
