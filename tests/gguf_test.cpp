// The GGUF reader and writer: round trips of every dtype and metadata type, views into the
// mapping, and hostile input (truncation at every byte, lying counts, sizes, offsets, types,
// alignment) that must give an Error naming what is wrong, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "io/readers.h"
#include "support/fixtures.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace rwkv {
namespace {

using test::TempDir;

// Raw GGUF bytes, field by field, for hand-made (and broken) files.
struct Raw {
  std::string b;
  Raw& u8(uint8_t v) { return put(v); }
  Raw& u32(uint32_t v) { return put(v); }
  Raw& u64(uint64_t v) { return put(v); }
  Raw& f32(float v) { return put(v); }
  Raw& str(std::string_view s) {
    u64(s.size());
    b += s;
    return *this;
  }
  Raw& header(uint64_t tensors, uint64_t kv, uint32_t version = 3) {
    return u32(gguf::kMagic).u32(version).u64(tensors).u64(kv);
  }
  Raw& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  // A tensor info: ne in ggml order.
  Raw& info(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  Raw& pad(size_t alignment = 32) {
    b.append((alignment - b.size() % alignment) % alignment, '\0');
    return *this;
  }
  Raw& zeros(size_t n) {
    b.append(n, '\0');
    return *this;
  }
  template <typename T>
  Raw& put(T v) {
    char c[sizeof v];
    std::memcpy(c, &v, sizeof v);
    b.append(c, sizeof v);
    return *this;
  }
};

TensorMap read_bytes(const std::string& bytes) {
  return read_gguf(MappedFile::from_bytes(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), "t.gguf"));
}

void expect_error(const std::string& bytes, const std::string& needle) {
  try {
    read_bytes(bytes);
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("t.gguf"), std::string::npos) << "the message names the file: " << e.what();
  }
}

// A valid file: one f32 tensor 'w' (2, 3) and one Q8_0 tensor 'q' (1, 32), one u32 key.
std::string valid_file() {
  Raw r;
  r.header(2, 1).kv_u32("a.b", 7).info("w", {3, 2}, 0, 0).info("q", {32, 1}, 8, 32).pad();
  r.f32(1).f32(2).f32(3).f32(4).f32(5).f32(6).zeros(8);  // w: 24 bytes, padded to 32
  r.u32(0x3C00).zeros(30);                               // q: 34 bytes (d = 1, qs = 0)
  return r.b;
}

TEST(Gguf, HandMadeFileReads) {
  const TensorMap m = read_bytes(valid_file());
  EXPECT_EQ(m.metadata().at("a.b"), "7");
  EXPECT_EQ(m.metadata().at("gguf.version"), "3");
  const TensorView& w = m.get("w");
  EXPECT_EQ(w.shape, (Shape{2, 3}));  // ne (3, 2) reversed
  EXPECT_EQ(w.dtype, DType::F32);
  EXPECT_EQ(tensor_to_f32(w), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(m.get("q").dtype, DType::Q8_0);
  EXPECT_EQ(m.get("q").shape, (Shape{1, 32}));
}

TEST(Gguf, WriteReadRoundTrip) {
  TempDir dir;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  struct T {
    std::string name;
    DType dtype;
    Shape shape;
    std::vector<std::byte> bytes;
  };
  std::vector<T> tensors;
  for (auto [name, dtype, shape] : {std::tuple{"a.f32", DType::F32, Shape{2, 3}}, {"b.f16", DType::F16, Shape{5}},
                                    {"c.bf16", DType::BF16, Shape{1, 1, 2, 2}}, {"d.q8", DType::Q8_0, Shape{3, 64}},
                                    {"e.q4k", DType::Q4_K, Shape{2, 256}}, {"f.q6k", DType::Q6_K, Shape{1, 256}},
                                    {"g.q51", DType::Q5_1, Shape{4, 32}}}) {
    std::vector<float> f(static_cast<size_t>(shape_numel(shape)));
    for (float& v : f) v = dist(rng);
    tensors.push_back({name, dtype, shape,
                       convert_rows(DType::F32, reinterpret_cast<const std::byte*>(f.data()),
                                    shape_numel(shape) / shape.back(), shape.back(), dtype)});
  }
  std::vector<TensorSource> sources;
  for (const T& t : tensors)
    sources.push_back({t.name, t.dtype, t.shape, [&t](std::span<std::byte> dst) {
                         std::copy(t.bytes.begin(), t.bytes.end(), dst.begin());
                       }});
  const GgufMetadata meta = {{"k.u32", uint32_t{7}},
                             {"k.i32", int32_t{-3}},
                             {"k.u64", uint64_t{1} << 40},
                             {"k.f32", 0.5f},
                             {"k.bool", true},
                             {"k.str", std::string("héllo")},
                             {"k.strs", std::vector<std::string>{"<s>", "\\x00", "a\"b"}},
                             {"k.ints", std::vector<int32_t>{1, -2, 3}}};
  const std::string path = (dir / "m.gguf").string();
  write_gguf(path, sources, meta, 64);
  const TensorMap m = read_tensor_file(path);
  EXPECT_EQ(m.size(), tensors.size());
  for (const T& t : tensors) {
    const TensorView& v = m.get(t.name);
    EXPECT_EQ(v.dtype, t.dtype) << t.name;
    EXPECT_EQ(v.shape, t.shape) << t.name;
    ASSERT_EQ(v.bytes.size(), t.bytes.size()) << t.name;
    EXPECT_EQ(std::memcmp(v.bytes.data(), t.bytes.data(), t.bytes.size()), 0) << t.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.bytes.data()) % 64, 0u) << t.name << ": a view into the mapping, aligned";
  }
  const auto& md = m.metadata();
  EXPECT_EQ(md.at("general.alignment"), "64");
  EXPECT_EQ(md.at("gguf.alignment"), "64");
  EXPECT_EQ(md.at("k.u32"), "7");
  EXPECT_EQ(md.at("k.i32"), "-3");
  EXPECT_EQ(md.at("k.u64"), "1099511627776");
  EXPECT_EQ(md.at("k.f32"), "0.5");
  EXPECT_EQ(md.at("k.bool"), "true");
  EXPECT_EQ(md.at("k.str"), "héllo");
  EXPECT_EQ(md.at("k.strs"), R"(["<s>","\\x00","a\"b"])");
  EXPECT_EQ(md.at("k.ints"), "[1,-2,3]");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(Gguf, WriterRefusesWhatTheFormatCannotHold) {
  TempDir dir;
  const auto fill = [](std::span<std::byte>) {};
  EXPECT_THROW(write_gguf((dir / "a.gguf").string(), {{"t", DType::Q8_0, {2, 16}, fill}}, {}), Error);
  EXPECT_THROW(write_gguf((dir / "b.gguf").string(), {{"t", DType::F32, {1, 1, 1, 1, 1}, fill}}, {}), Error);
  EXPECT_THROW(write_gguf((dir / "c.gguf").string(), {{"t", DType::F32, {1}, fill}, {"t", DType::F32, {1}, fill}}, {}),
               Error);
  EXPECT_THROW(write_gguf((dir / "d.gguf").string(), {}, {{"general.alignment", uint32_t{64}}}), Error);
  EXPECT_THROW(write_gguf((dir / "e.gguf").string(), {}, {}, 48), Error);
  for (const char* f : {"a.gguf", "b.gguf", "c.gguf", "d.gguf", "e.gguf"}) {
    EXPECT_FALSE(std::filesystem::exists(dir / f)) << f;
    EXPECT_FALSE(std::filesystem::exists(dir / (std::string(f) + ".tmp"))) << f;
  }
}

TEST(Gguf, TruncationAtEveryByteIsAnError) {
  const std::string full = valid_file();
  const size_t data_end = full.size();  // the last tensor ends the file
  for (size_t n = 0; n < data_end; ++n) {
    try {
      read_bytes(full.substr(0, n));
      ADD_FAILURE() << "a file cut at byte " << n << " of " << full.size() << " read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("t.gguf"), std::string::npos) << e.what();
    }
  }
}

TEST(Gguf, LyingHeadersAreNamed) {
  expect_error(Raw().u32(0x12345678).b + std::string(40, '\0'), "not a GGUF file");
  expect_error(Raw().header(0, 0, 1).b, "version 1");
  expect_error(Raw().header(0, 0, 4).b, "GGUF version 4");
  expect_error(Raw().header(uint64_t{1} << 40, 0).b, "claims");
  expect_error(Raw().header(0, uint64_t{1} << 60).b, "claims");
  // Metadata: a key longer than the file, an unknown type, a bool that is not 0/1, nested arrays,
  // an array longer than the file, a repeated key, bad alignments.
  expect_error(Raw().header(0, 1).u64(1 << 20).zeros(20).b, "metadata key");
  expect_error(Raw().header(0, 1).str("k").u32(13).u32(0).b, "type 13");
  expect_error(Raw().header(0, 1).str("k").u32(7).u8(2).b, "bool of value 2");
  expect_error(Raw().header(0, 1).str("k").u32(9).u32(9).u64(1).zeros(16).b, "array of arrays");
  expect_error(Raw().header(0, 1).str("k").u32(9).u32(4).u64(uint64_t{1} << 50).zeros(16).b, "claims");
  expect_error(Raw().header(0, 1).str("k").u32(9).u32(8).u64(1000).zeros(16).b, "claims");
  expect_error(Raw().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).b, "appears twice");
  expect_error(Raw().header(0, 1).kv_u32("general.alignment", 0).b, "general.alignment");
  expect_error(Raw().header(0, 1).kv_u32("general.alignment", 48).b, "power of two");
  expect_error(Raw().header(0, 1).str("general.alignment").u32(5).u32(static_cast<uint32_t>(-32)).b, "general.alignment");
  expect_error(Raw().header(0, 1).str("general.alignment").u32(8).str("32").b, "general.alignment");
  // Tensor infos: dimensions, types, names.
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset = 0, std::string_view name = "t") {
    return Raw().header(1, 0).info(name, std::move(ne), type, offset).pad().zeros(64).b;
  };
  expect_error(one({}, 0), "0 dimensions");
  expect_error(one({1, 1, 1, 1, 1}, 0), "5 dimensions");
  expect_error(one({4, 0}, 0), "dimension 0");
  expect_error(one({uint64_t{1} << 63}, 0), "dimension");
  expect_error(one({uint64_t{1} << 31, uint64_t{1} << 31, uint64_t{1} << 31}, 0), "too large");
  expect_error(one({4}, 99), "unknown type 99");
  expect_error(one({256}, 16), "IQ2_XXS");
  expect_error(one({30, 2}, 2), "not a whole number of blocks");
  expect_error(one({4}, 0, 0, std::string("a\0b", 3)), "NUL");
  expect_error(one({4}, 0, 0, ""), "empty name");
  expect_error(Raw().header(1, 0).u64(uint64_t{1} << 40).zeros(64).b, "tensor name");
  // Offsets: unaligned, past the end, overlapping; data start past the end.
  expect_error(one({4}, 0, 8), "not a multiple of the alignment");
  expect_error(one({4}, 0, 64), "past the end");
  expect_error(one({1024}, 0), "past the end");
  expect_error(Raw().header(2, 0).info("a", {16}, 0, 0).info("b", {4}, 0, 32).pad().zeros(128).b, "overlap");
  expect_error(Raw().header(2, 0).info("a", {4}, 0, 0).info("a", {4}, 0, 32).pad().zeros(64).b, "appears twice");
  expect_error(Raw().header(1, 0).info("t", {4}, 0, 0).b, "past the end");
}

TEST(Gguf, FlippedBytesNeverCrash) {
  const std::string good = valid_file();
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = good;
    for (int k = 0; k < 1 + i % 4; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    try {
      const TensorMap m = read_bytes(bad);
      for (const auto& name : m.names()) tensor_to_f32(m.get(name));
    } catch (const Error&) {
    }
  }
}

TEST(Gguf, UnalignedDataIsCopied) {
  // alignment 1: the f32 tensor starts at an odd byte, so the reader copies it.
  Raw r;
  r.header(1, 1).kv_u32("general.alignment", 1).info("w", {2}, 0, 0);
  ASSERT_NE(r.b.size() % 4, 0u);  // the data follows at once, not 4-byte aligned
  r.f32(1.5f).f32(-2.0f);
  const TensorMap m = read_bytes(r.b);
  EXPECT_EQ(tensor_to_f32(m.get("w")), (std::vector<float>{1.5f, -2.0f}));
}

}  // namespace
}  // namespace rwkv
