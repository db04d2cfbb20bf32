// The rwkv.cpp .bin reader on bad input: truncated files, lying sizes, unknown types; and the
// files it reads but we refuse (RWKV-4, RWKV-5.0, quantized). Every failure must be an Error whose
// message names the file, never a crash or a read past the buffer.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "io/readers.h"
#include "models/layouts.h"
#include "rwkv/model.h"
#include "support/fixtures.h"
#include "util/error.h"

namespace rwkv::test {
namespace {

std::shared_ptr<const MappedFile> bytes_file(std::string_view bytes, const std::string& name) {
  return MappedFile::from_bytes(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), name);
}

// Expects read_rwkvcpp_bin to throw an Error whose message names the file and contains `needle`.
void expect_read_error(std::string_view bytes, const std::string& needle, const std::string& name = "crafted.bin") {
  try {
    read_rwkvcpp_bin(bytes_file(bytes, name));
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

// Builds rwkv.cpp files field by field.
class BinWriter {
 public:
  BinWriter& i32(int32_t v) {
    out_.append(reinterpret_cast<const char*>(&v), 4);
    return *this;
  }
  BinWriter& header(int32_t version = 101, int32_t vocab = 4, int32_t embd = 2, int32_t layers = 1, int32_t type = 0) {
    return i32(0x67676d66).i32(version).i32(vocab).i32(embd).i32(layers).i32(type);
  }
  // A tensor with ne[] (ggml order) and `data_bytes` zero bytes.
  BinWriter& tensor(const std::string& key, int32_t type, std::vector<int32_t> ne, size_t data_bytes) {
    i32(static_cast<int32_t>(ne.size())).i32(static_cast<int32_t>(key.size())).i32(type);
    for (int32_t d : ne) i32(d);
    out_ += key;
    out_.append(data_bytes, '\0');
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// Offsets where each tensor record starts, walking a well-formed FP32/FP16 file.
std::vector<size_t> record_offsets(const std::string& f) {
  std::vector<size_t> offs;
  size_t off = 24;
  while (off < f.size()) {
    offs.push_back(off);
    int32_t dims, key, type;
    std::memcpy(&dims, f.data() + off, 4);
    std::memcpy(&key, f.data() + off + 4, 4);
    std::memcpy(&type, f.data() + off + 8, 4);
    size_t n = 1;
    for (int32_t i = 0; i < dims; ++i) {
      int32_t d;
      std::memcpy(&d, f.data() + off + 12 + 4 * i, 4);
      n *= static_cast<size_t>(d);
    }
    off += 12 + 4 * static_cast<size_t>(dims) + static_cast<size_t>(key) + n * (type == 0 ? 4 : 2);
  }
  return offs;
}

TEST(RwkvCppBin, ReadsHeaderIntoMetadataAndShapesInPyTorchOrder) {
  RWKV_FIXTURE_OR_SKIP(path, "rwkv5-tiny/model-rwkvcpp-f32.bin");
  TensorMap t = read_tensor_file(path.string());
  EXPECT_EQ(t.metadata().at("rwkvcpp.version"), "101");
  EXPECT_EQ(t.metadata().at("rwkvcpp.n_vocab"), "512");
  EXPECT_EQ(t.metadata().at("rwkvcpp.n_embed"), "128");
  EXPECT_EQ(t.metadata().at("rwkvcpp.n_layer"), "3");
  EXPECT_EQ(t.metadata().at("rwkvcpp.data_type"), "FP32");
  EXPECT_EQ(t.get("emb.weight").shape, (Shape{512, 128}));
  EXPECT_EQ(t.get("blocks.0.ffn.key.weight").shape, (Shape{448, 128}));
  EXPECT_EQ(t.get("blocks.0.att.time_decay").shape, (Shape{2, 64, 1}));  // as stored: exp(-exp(w)), (H,S,1)

  // After the layout step: official names and shapes; the stored decay kept under its own name.
  normalize_layout(t);
  EXPECT_EQ(t.get("blocks.0.att.time_mix_k").shape, (Shape{1, 1, 128}));
  EXPECT_EQ(t.get("blocks.0.att.time_faaaa").shape, (Shape{2, 64}));
  EXPECT_EQ(t.get("blocks.0.att.time_decay_factor").shape, (Shape{2, 64}));
  EXPECT_FALSE(t.contains("blocks.0.att.time_decay"));
  EXPECT_EQ(t.metadata().at("rwkvcpp.arch"), "5.2");
}

TEST(RwkvCppBin, UndoesRwkv6AndRwkv7Conversions) {
  RWKV_FIXTURE_OR_SKIP(v6, "rwkv6-tiny/model-rwkvcpp-f32.bin");
  TensorMap t6 = read_tensor_file(v6.string());
  EXPECT_EQ(t6.get("blocks.0.att.time_maa_w1").shape, (Shape{10, 128}));
  EXPECT_EQ(t6.get("blocks.0.att.time_maa_w2").shape, (Shape{5, 128, 2}));
  normalize_layout(t6);
  TensorMap official = read_tensor_file((v6.parent_path() / "model.safetensors").string());
  for (const std::string& name : official.names()) {
    ASSERT_TRUE(t6.contains(name)) << name;
    const TensorView &a = t6.get(name), &b = official.get(name);
    EXPECT_EQ(a.shape, b.shape) << name;
    EXPECT_EQ(tensor_to_f32(a), tensor_to_f32(b)) << name;  // bit-exact: only moved, never computed
  }
  EXPECT_EQ(t6.size(), official.size());

  RWKV_FIXTURE_OR_SKIP(v7, "rwkv-cpp-tiny/tiny-rwkv-7v0-834K-FP32.bin");
  RWKV_FIXTURE_OR_SKIP(v7_official, "tiny-7v0-834K/model.safetensors");
  TensorMap t7 = read_tensor_file(v7.string());
  normalize_layout(t7);
  TensorMap o7 = read_tensor_file(v7_official.string());
  for (const std::string& name : o7.names()) {
    ASSERT_TRUE(t7.contains(name)) << name;
    EXPECT_EQ(t7.get(name).shape, o7.get(name).shape) << name;
    EXPECT_EQ(tensor_to_f32(t7.get(name)), tensor_to_f32(o7.get(name))) << name;
  }
}

TEST(RwkvCppBin, TruncatedFilesGiveClearErrors) {
  RWKV_FIXTURE_OR_SKIP(path, "rwkv5-tiny/model-rwkvcpp-f32.bin");
  const std::string f = read_file(path);
  const std::vector<size_t> records = record_offsets(f);
  ASSERT_GT(records.size(), 20u);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < 200; ++i) cuts.push_back(i);  // header and the first record, byte by byte
  for (size_t r : records)
    for (size_t d : {1, 4, 8, 11, 12, 13, 16, 20, 30, 60, 200}) cuts.push_back(r + d);  // inside each record
  cuts.push_back(f.size() - 1);
  for (size_t cut : cuts) {
    if (cut >= f.size()) continue;
    const std::string name = "truncated-at-" + std::to_string(cut) + ".bin";
    try {
      read_rwkvcpp_bin(bytes_file(std::string_view(f).substr(0, cut), name));
      // Only a cut exactly between two records reads (with fewer tensors).
      EXPECT_TRUE(cut == 24 || std::find(records.begin(), records.end(), cut) != records.end()) << name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(RwkvCppBin, TruncatedBetweenRecordsIsRefusedByTheLoader) {
  RWKV_FIXTURE_OR_SKIP(path, "rwkv5-tiny/model-rwkvcpp-f32.bin");
  const std::string f = read_file(path);
  const std::vector<size_t> records = record_offsets(f);
  TempDir dir;
  for (size_t cut : {size_t{24}, records[1], records[records.size() / 2], records.back()}) {
    const fs::path p = dir / ("cut-" + std::to_string(cut) + ".bin");
    write_file(p, std::string_view(f).substr(0, cut));
    try {
      Model::load({p.string()});
      ADD_FAILURE() << "loaded a file cut at " << cut;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    }
  }
}

TEST(RwkvCppBin, LyingHeadersGiveClearErrors) {
  expect_read_error(BinWriter().header(99).str(), "version 99");
  expect_read_error(BinWriter().header(101, 4, 2, 0).str(), "must be positive");
  expect_read_error(BinWriter().header(101, 4, 2, 1, 42).str(), "data type 42");
  expect_read_error(BinWriter().header(101, 4, 2, 1, 5).str(), "Q4_2");  // a format ggml removed
  expect_read_error(BinWriter().header(101, 4, 2, 1, 10).str(), "Q8_1");
  expect_read_error(BinWriter().header(100, 4, 2, 1, 7).str(), "version-100");
  expect_read_error(BinWriter().header().tensor("emb.weight", 0, {2, 4}, 32).i32(1).str(), "tensor header (key_length)");
}

TEST(RwkvCppBin, LyingTensorRecordsGiveClearErrors) {
  // Dimensions that promise more data than the file holds.
  expect_read_error(BinWriter().header().tensor("emb.weight", 0, {2, 20}, 32).str(), "only 32 remain");
  expect_read_error(BinWriter().header().tensor("emb.weight", 0, {2, 0x7fffffff}, 32).str(), "32 bytes that remain");
  expect_read_error(BinWriter().header().tensor("emb.weight", 0, {0x7fffffff, 0x7fffffff, 0x7fffffff}, 8).str(),
                    "8 bytes that remain");
  expect_read_error(BinWriter().header().tensor("emb.weight", 0, {2, -4}, 32).str(), "must be positive");
  expect_read_error(BinWriter().header().tensor("emb.weight", 0, {2, 0}, 0).str(), "must be positive");
  // Wrong dimension counts.
  expect_read_error(BinWriter().header().tensor("x", 0, {}, 4).str(), "dim_count 0");
  expect_read_error(BinWriter().header().tensor("x", 0, {1, 1, 1, 1}, 4).str(), "dim_count 4");
  // Key lengths: absurd, and longer than the file.
  BinWriter huge_key;
  huge_key.header().i32(1).i32(1 << 30).i32(0).i32(1);
  expect_read_error(huge_key.str(), "key_length 1073741824");
  BinWriter long_key;
  long_key.header().i32(1).i32(100).i32(0).i32(1).str();
  expect_read_error(long_key.str() + "short", "tensor name");
  expect_read_error(BinWriter().header().tensor(std::string("a\0b", 3), 0, {1}, 4).str(), "NUL");
  // Data types: undefined, removed, and a quantized row that is not whole blocks.
  expect_read_error(BinWriter().header().tensor("w", 99, {4}, 16).str(), "data type 99");
  expect_read_error(BinWriter().header().tensor("w", 4, {32}, 20).str(), "Q4_1_O");
  expect_read_error(BinWriter().header().tensor("w", 7, {30, 2}, 44).str(), "not a whole number of blocks");
  // A name twice.
  expect_read_error(BinWriter().header().tensor("w", 0, {1}, 4).tensor("w", 0, {1}, 4).str(), "appears twice");
}

// Quantized files load: the matrices stay quantized (the model runs on them), and the v6 LoRA
// factors rwkv.cpp quantized and transposed are widened to f32 before they are transposed back.
TEST(RwkvCppBin, QuantizedFilesLoadWithTheirMatricesQuantized) {
  for (const char* file : {"tiny-rwkv-5v2-730K-Q5_0.bin", "tiny-rwkv-6v0-1m-Q5_1.bin", "tiny-rwkv-7v0-834K-Q5_0.bin"}) {
    RWKV_FIXTURE_OR_SKIP(path, std::string("rwkv-cpp-tiny/") + file);
    TensorMap t = read_tensor_file(path.string());
    EXPECT_TRUE(dtype_is_quantized(t.get("blocks.0.att.key.weight").dtype)) << file;
    auto model = Model::load({path.string()});
    EXPECT_NE(model->describe().find("q5_"), std::string::npos) << model->describe();
  }
  RWKV_FIXTURE_OR_SKIP(v6, "rwkv-cpp-tiny/tiny-rwkv-6v0-1m-Q5_1.bin");
  TensorMap t = read_tensor_file(v6.string());
  EXPECT_EQ(t.get("blocks.0.att.time_maa_w1").dtype, DType::Q5_1);
  normalize_layout(t);
  EXPECT_EQ(t.get("blocks.0.att.time_maa_w1").dtype, DType::F32);
  EXPECT_EQ(t.get("blocks.0.att.time_maa_w1").shape, (Shape{64, 160}));
  EXPECT_EQ(t.get("blocks.0.att.key.weight").dtype, DType::Q5_1);
}

TEST(RwkvCppBin, UnsupportedVersionsAreNamed) {
  RWKV_FIXTURE_OR_SKIP(v4, "rwkv-cpp-tiny/tiny-rwkv-4v0-660K-FP32.bin");
  try {
    Model::load({v4.string()});
    ADD_FAILURE() << "RWKV-4 loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RWKV-4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not supported"), std::string::npos) << e.what();
  }

  // rwkv.cpp's "5.1" is the official RWKV-5.0: ln_x without a gate. Make one by renaming the gates.
  RWKV_FIXTURE_OR_SKIP(v5, "rwkv5-tiny/model-rwkvcpp-f32.bin");
  std::string f = read_file(v5);
  for (size_t pos = 0; (pos = f.find(".att.gate.weight", pos)) != std::string::npos;) f.replace(pos, 16, ".att.gxte.weight");
  TempDir dir;
  write_file(dir / "v50.bin", f);
  try {
    Model::load({(dir / "v50.bin").string()});
    ADD_FAILURE() << "RWKV-5.0 loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RWKV-5.0"), std::string::npos) << e.what();
  }
}

TEST(RwkvCppBin, HeaderContradictingTheTensorsIsAnError) {
  RWKV_FIXTURE_OR_SKIP(path, "rwkv5-tiny/model-rwkvcpp-f32.bin");
  std::string f = read_file(path);
  TempDir dir;
  std::string wrong_embd = f;
  const int32_t embd = 64;
  std::memcpy(wrong_embd.data() + 12, &embd, 4);
  write_file(dir / "embd.bin", wrong_embd);
  EXPECT_THROW(
      {
        try {
          Model::load({(dir / "embd.bin").string()});
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("n_embed 64"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  std::string wrong_layers = f;
  const int32_t layers = 4;
  std::memcpy(wrong_layers.data() + 16, &layers, 4);
  write_file(dir / "layers.bin", wrong_layers);
  EXPECT_THROW(Model::load({(dir / "layers.bin").string()}), Error);
}

// Random byte flips in the headers never crash the reader: it reads or throws Error.
TEST(RwkvCppBin, CorruptHeadersNeverCrash) {
  RWKV_FIXTURE_OR_SKIP(path, "rwkv6-tiny/model-rwkvcpp-f32.bin");
  const std::string f = read_file(path);
  const std::vector<size_t> records = record_offsets(f);
  std::mt19937 rng(56);
  for (int iter = 0; iter < 300; ++iter) {
    std::string g = f;
    for (int k = 0; k < 3; ++k) {
      const size_t r = records[rng() % records.size()];
      g[r + rng() % 24] = static_cast<char>(rng());
    }
    try {
      TensorMap t = read_rwkvcpp_bin(bytes_file(g, "corrupt.bin"));
      normalize_layout(t);
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace rwkv::test
