// The .pth reader: the fixtures (torch 1.13 files) against their safetensors twins, zero-copy,
// hand-built pickles (views, offsets, strides, Parameters, OrderedDict state dicts, protocol 4),
// and refusals with clear errors.
#include <gtest/gtest.h>

#include <cstring>

#include "io/readers.h"
#include "support/fixtures.h"
#include "support/pth_builder.h"
#include "util/error.h"

namespace rwkv {
namespace {

using test::PickledTensor;
using test::PthParts;

bool points_into(const MappedFile& f, const TensorView& t) {
  const auto* b = f.bytes().data();
  return t.bytes.data() >= b && t.bytes.data() + t.bytes.size() <= b + f.size();
}

// ---- fixtures ----

struct FixtureCase {
  const char* folder;
  const char* file;
  DType dtype;
};

class PthFixture : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(PthFixture, MatchesSafetensorsAndIsZeroCopy) {
  const FixtureCase c = GetParam();
  RWKV_FIXTURE_OR_SKIP(pth, std::string(c.folder) + "/" + c.file);
  RWKV_FIXTURE_OR_SKIP(st, std::string(c.folder) + "/model.safetensors");
  auto file = MappedFile::open(pth.string());
  const TensorMap got = read_pth(file);
  const TensorMap want = read_tensor_file(st.string());
  EXPECT_EQ(got.names(), want.names());
  for (const std::string& name : want.names()) {
    SCOPED_TRACE(name);
    const TensorView& g = got.get(name);
    const TensorView& w = want.get(name);
    EXPECT_EQ(g.dtype, c.dtype);
    EXPECT_EQ(g.shape, w.shape);
    EXPECT_TRUE(points_into(*file, g)) << "not zero-copy";
    EXPECT_EQ(tensor_to_f32(g), tensor_to_f32(w));  // the fixtures' values are exactly bf16
  }
}

TEST_P(PthFixture, ReadTensorFileDetectsPth) {
  const FixtureCase c = GetParam();
  RWKV_FIXTURE_OR_SKIP(pth, std::string(c.folder) + "/" + c.file);
  EXPECT_EQ(detect_file_format(*MappedFile::open(pth.string())), FileFormat::Pth);
  EXPECT_GT(read_tensor_file(pth.string()).size(), 10u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PthFixture,
                         ::testing::Values(FixtureCase{"rwkv7-tiny", "model-f32.pth", DType::F32},
                                           FixtureCase{"rwkv7-tiny", "model-bf16.pth", DType::BF16},
                                           FixtureCase{"rwkv7a-tiny", "model-f32.pth", DType::F32},
                                           FixtureCase{"rwkv7a-tiny", "model-bf16.pth", DType::BF16},
                                           FixtureCase{"rwkv7b-tiny", "model-f32.pth", DType::F32},
                                           FixtureCase{"rwkv7b-tiny", "model-bf16.pth", DType::BF16},
                                           FixtureCase{"rwkv5-tiny", "model-f32.pth", DType::F32},
                                           FixtureCase{"rwkv5-tiny", "model-bf16.pth", DType::BF16},
                                           FixtureCase{"rwkv6-tiny", "model-f32.pth", DType::F32},
                                           FixtureCase{"rwkv6-tiny", "model-bf16.pth", DType::BF16},
                                           FixtureCase{"tiny-5v2-730K", "model-f32.pth", DType::F32},
                                           FixtureCase{"tiny-6v0-1m", "model-f32.pth", DType::F32},
                                           FixtureCase{"tiny-7v0-834K", "model-f32.pth", DType::F32}),
                         [](const auto& info) {
                           return test::test_name(std::string(info.param.folder) + "_" + info.param.file);
                         });

// ---- hand-built archives ----

class PthBuilt : public ::testing::Test {
 protected:
  // Writes the parts and reads them back, keeping the mapped file for pointer checks.
  TensorMap read(const PthParts& parts) {
    const auto path = dir_ / "t.pth";
    test::write_pth_parts(path, parts);
    file_ = MappedFile::open(path.string());
    return read_pth(file_);
  }
  std::string read_error(const PthParts& parts) {
    try {
      read(parts);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
  }
  test::TempDir dir_;
  std::shared_ptr<const MappedFile> file_;
};

std::vector<float> iota(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return v;
}

TEST_F(PthBuilt, OffsetViewIsZeroCopy) {
  PthParts p;
  p.pickle = test::state_dict_pickle({{"w", "FloatStorage", "0", 10, 4, {2, 2}, {2, 1}}});
  p.storages = {{"0", test::raw_bytes(iota(10))}};
  const TensorMap m = read(p);
  EXPECT_EQ(tensor_to_f32(m.get("w")), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_TRUE(points_into(*file_, m.get("w")));
}

TEST_F(PthBuilt, TransposedViewIsGathered) {
  PthParts p;  // a (2,3) storage read as its (3,2) transpose
  p.pickle = test::state_dict_pickle({{"t", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}}});
  p.storages = {{"0", test::raw_bytes(iota(6))}};
  const TensorMap m = read(p);
  EXPECT_EQ(m.get("t").shape, (Shape{3, 2}));
  EXPECT_EQ(tensor_to_f32(m.get("t")), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_FALSE(points_into(*file_, m.get("t")));
}

TEST_F(PthBuilt, StridedViewsOfThreeDims) {
  PthParts p;  // every other element of a (2,3,4) block, plus an offset and a broadcast dim
  p.pickle = test::state_dict_pickle(
      {{"s", "FloatStorage", "0", 30, 1, {2, 3, 2}, {12, 4, 2}}, {"b", "FloatStorage", "0", 30, 5, {3, 2}, {0, 1}}});
  p.storages = {{"0", test::raw_bytes(iota(30))}};
  const TensorMap m = read(p);
  EXPECT_EQ(tensor_to_f32(m.get("s")), (std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}));
  EXPECT_EQ(tensor_to_f32(m.get("b")), (std::vector<float>{5, 6, 5, 6, 5, 6}));
}

TEST_F(PthBuilt, SharedStorageAndSizeOneDims) {
  PthParts p;  // two views of one storage; a size-1 dim with an arbitrary stride is still contiguous
  p.pickle = test::state_dict_pickle(
      {{"a", "BFloat16Storage", "7", 8, 0, {4}, {1}}, {"b", "BFloat16Storage", "7", 8, 4, {1, 1, 4}, {99, 4, 1}}});
  std::vector<uint16_t> v;
  for (int i = 0; i < 8; ++i) v.push_back(f32_to_bf16(static_cast<float>(i)));
  p.storages = {{"7", test::raw_bytes(v)}};
  const TensorMap m = read(p);
  EXPECT_EQ(tensor_to_f32(m.get("a")), (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(tensor_to_f32(m.get("b")), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(m.get("b").shape, (Shape{1, 1, 4}));
  EXPECT_TRUE(points_into(*file_, m.get("a")));
  EXPECT_TRUE(points_into(*file_, m.get("b")));
  EXPECT_EQ(m.get("a").bytes.data() + 8, m.get("b").bytes.data());
}

TEST_F(PthBuilt, UnalignedDataIsCopied) {
  PthParts p;  // no padding: ar/data/0 written first, its data at byte 30 + 9, not 4-byte aligned
  p.stem = "ar";
  p.alignment = 1;
  p.storages_first = true;
  p.pickle = test::state_dict_pickle({{"w", "FloatStorage", "0", 3, 0, {3}, {1}}});
  p.storages = {{"0", test::raw_bytes(iota(3))}};
  const TensorMap m = read(p);
  EXPECT_EQ(tensor_to_f32(m.get("w")), (std::vector<float>{0, 1, 2}));
  EXPECT_FALSE(points_into(*file_, m.get("w")));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.get("w").data()) % 4, 0u);
}

TEST_F(PthBuilt, ScalarsEmptyTensorsHalfAndZip64) {
  PthParts p;
  p.stem = "model-f16";  // torch 1.x names the folder after the file
  p.byteorder.reset();
  p.force_zip64 = true;
  p.pickle = test::state_dict_pickle(
      {{"scalar", "HalfStorage", "0", 1, 0, {}, {}}, {"empty", "HalfStorage", "1", 0, 0, {0, 3}, {3, 1}}});
  p.storages = {{"0", test::raw_bytes(std::vector<uint16_t>{f32_to_f16(1.5f)})}, {"1", ""}};
  const TensorMap m = read(p);
  EXPECT_EQ(m.get("scalar").shape, Shape{});
  EXPECT_EQ(m.get("scalar").dtype, DType::F16);
  EXPECT_EQ(tensor_to_f32(m.get("scalar")), std::vector<float>{1.5f});
  EXPECT_EQ(m.get("empty").numel(), 0);
}

// What nn.Module.state_dict() pickles: an OrderedDict with a `_metadata` attribute (BUILD),
// Parameters, memoized globals; here also protocol 4 opcodes (FRAME, MEMOIZE, STACK_GLOBAL,
// SHORT_BINUNICODE) and the 7-argument _rebuild_tensor_v2 of torch 2.x.
TEST_F(PthBuilt, OrderedDictParametersAndProtocol4) {
  PickleWriter p(4);
  auto short_str = [&](std::string_view s) {
    p.op(0x8c);
    p.op(static_cast<uint8_t>(s.size()));
    p.raw(s);
    p.op(0x94);  // MEMOIZE
  };
  p.op(0x95);  // FRAME of 8 bytes length (its value is not relied on)
  p.raw(std::string("\x10\x00\x00\x00\x00\x00\x00\x00", 8));
  short_str("collections");
  short_str("OrderedDict");
  p.op(0x93);  // STACK_GLOBAL -> memo 2
  p.op(0x94);
  p.empty_tuple();
  p.reduce();
  p.mark();
  p.string("weight");
  p.global("torch._utils", "_rebuild_parameter");
  p.mark();
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.mark();
  p.mark();
  short_str("storage");
  p.global("torch", "FloatStorage");
  short_str("0");
  short_str("cuda:0");
  p.integer(4);
  p.tuple();
  p.binpersid();
  p.integer(0);
  p.integer(2);
  p.integer(2);
  p.tuple_n(2);
  p.integer(2);
  p.integer(1);
  p.tuple_n(2);
  p.boolean(true);
  p.binget(2);  // OrderedDict, memoized
  p.empty_tuple();
  p.reduce();
  p.empty_dict();  // metadata (torch 2.x, 7th argument)
  p.tuple();
  p.reduce();
  p.boolean(true);
  p.binget(2);
  p.empty_tuple();
  p.reduce();
  p.tuple();
  p.reduce();
  p.setitems();
  // state: {'_metadata': OrderedDict({'': {'version': 1}})}
  p.empty_dict();
  p.string("_metadata");
  p.binget(2);
  p.empty_tuple();
  p.reduce();
  p.string("");
  p.empty_dict();
  p.string("version");
  p.integer(1);
  p.op('s');
  p.op('s');
  p.op('s');
  p.op('b');  // BUILD
  p.stop();
  PthParts parts;
  parts.pickle = p.bytes();
  parts.storages = {{"0", test::raw_bytes(std::vector<float>{1, 2, 3, 4})}};
  const TensorMap m = read(parts);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.get("weight").shape, (Shape{2, 2}));
  EXPECT_EQ(tensor_to_f32(m.get("weight")), (std::vector<float>{1, 2, 3, 4}));
}

// ---- refusals ----

TEST_F(PthBuilt, RefusesBadTensors) {
  const std::string four = test::raw_bytes(iota(4));
  auto err = [&](std::vector<PickledTensor> ts, std::string storage = {}) {
    PthParts p;
    p.pickle = test::state_dict_pickle(ts);
    p.storages = {{"0", storage.empty() ? four : storage}};
    return read_error(p);
  };
  // past the storage's end, via size, offset or stride
  EXPECT_NE(err({{"w", "FloatStorage", "0", 4, 0, {5}, {1}}}).find("tensor 'w'"), std::string::npos);
  EXPECT_NE(err({{"w", "FloatStorage", "0", 4, 1, {4}, {1}}}).find("reach element 4"), std::string::npos);
  EXPECT_NE(err({{"w", "FloatStorage", "0", 4, 0, {2, 2}, {3, 1}}}).find("storage of 4"), std::string::npos);
  // huge numbers must not overflow into a small extent
  EXPECT_NE(err({{"w", "FloatStorage", "0", 4, 0, {int64_t{1} << 40, int64_t{1} << 40}, {1, 1}}}).find("too large"),
            std::string::npos);
  EXPECT_NE(err({{"w", "FloatStorage", "0", 4, 0, {2}, {int64_t{1} << 40}}}).find("reach element"), std::string::npos);
  EXPECT_NE(err({{"w", "FloatStorage", "0", int64_t{1} << 50, 0, {2}, {1}}}).find("should hold"), std::string::npos);
  // negative sizes and strides, ranks that differ
  EXPECT_NE(err({{"w", "FloatStorage", "0", 4, 0, {-1}, {1}}}).find("out of range"), std::string::npos);
  EXPECT_NE(err({{"w", "FloatStorage", "0", 4, 0, {2, 2}, {-2, 1}}}).find("out of range"), std::string::npos);
  EXPECT_NE(err({{"w", "FloatStorage", "0", 4, 0, {2, 2}, {1}}}).find("rank"), std::string::npos);
  // unsupported dtypes are named
  EXPECT_NE(err({{"w", "DoubleStorage", "0", 2, 0, {2}, {1}}}).find("torch.DoubleStorage"), std::string::npos);
  // the storage entry is missing, or is shared with a different type
  EXPECT_NE(err({{"w", "FloatStorage", "9", 4, 0, {4}, {1}}}).find("archive/data/9"), std::string::npos);
  EXPECT_NE(
      err({{"a", "FloatStorage", "0", 4, 0, {4}, {1}}, {"b", "HalfStorage", "0", 8, 0, {4}, {1}}}).find("first seen"),
      std::string::npos);
  // a name used twice
  EXPECT_NE(err({{"a", "FloatStorage", "0", 4, 0, {4}, {1}}, {"a", "FloatStorage", "0", 4, 0, {4}, {1}}}).find("twice"),
            std::string::npos);
}

TEST_F(PthBuilt, RefusesWrongStructure) {
  auto err = [&](const std::string& pickle) {
    PthParts p;
    p.pickle = pickle;
    return read_error(p);
  };
  PickleWriter list;
  list.op(']');
  list.stop();
  EXPECT_NE(err(list.bytes()).find("holds a list"), std::string::npos);
  PickleWriter not_tensor;
  not_tensor.empty_dict();
  not_tensor.string("step");
  not_tensor.integer(5);
  not_tensor.op('s');
  not_tensor.stop();
  EXPECT_NE(err(not_tensor.bytes()).find("tensor 'step'"), std::string::npos);
  PickleWriter evil;  // {'x': os.system('echo hi')}
  evil.empty_dict();
  evil.string("x");
  evil.global("os", "system");
  evil.string("echo hi");
  evil.tuple_n(1);
  evil.reduce();
  evil.op('s');
  evil.stop();
  const std::string e = err(evil.bytes());
  EXPECT_NE(e.find("'os system'"), std::string::npos) << e;
  EXPECT_NE(e.find("archive/data.pkl"), std::string::npos) << e;
  EXPECT_NE(e.find("GLOBAL (0x63) at byte 9"), std::string::npos) << e;
}

TEST_F(PthBuilt, RefusesBigEndianAndOddArchives) {
  PthParts p;
  p.pickle = test::state_dict_pickle({{"w", "FloatStorage", "0", 1, 0, {1}, {1}}});
  p.storages = {{"0", "abcd"}};
  p.byteorder = "big";
  EXPECT_NE(read_error(p).find("big-endian"), std::string::npos);
  p.byteorder = "middle";
  EXPECT_NE(read_error(p).find("byte order"), std::string::npos);

  // Not torch.save files: a zip without data.pkl, a TorchScript archive, a legacy stream.
  auto zip_with = [&](const std::vector<std::string>& names) {
    const auto path = dir_ / "z.pth";
    AtomicFileWriter out(path.string());
    ZipWriter zip(out);
    for (const auto& n : names) zip.add_entry(n, std::string_view("x"));
    zip.finish();
    out.commit();
    try {
      read_tensor_file(path.string());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(zip_with({"a/b.txt"}).find("without <folder>/data.pkl"), std::string::npos);
  EXPECT_NE(zip_with({"m/constants.pkl", "m/code/x.py"}).find("TorchScript"), std::string::npos);
  EXPECT_NE(zip_with({"a/data.pkl", "b/data.pkl"}).find("several"), std::string::npos);
  const std::string legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  test::write_file(dir_ / "old.pth", legacy);
  try {
    read_tensor_file((dir_ / "old.pth").string());
    ADD_FAILURE() << "legacy file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("legacy"), std::string::npos) << e.what();
  }
}

// ---- damaged files: every prefix and every flipped byte must give an Error or a valid map ----

std::string small_valid_pth(const test::TempDir& dir, bool zip64) {
  PthParts p;
  p.force_zip64 = zip64;
  p.pickle = test::state_dict_pickle({{"a", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
                                      {"b", "BFloat16Storage", "1", 4, 1, {3}, {1}},
                                      {"t", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}}});
  p.storages = {{"0", test::raw_bytes(iota(6))}, {"1", "\x01\x02\x03\x04\x05\x06\x07\x08"}};
  test::write_pth_parts(dir / "small.pth", p);
  return test::read_file(dir / "small.pth");
}

TEST(PthDamage, EveryPrefixIsRefused) {
  test::TempDir dir;
  for (bool zip64 : {false, true}) {
    const std::string full = small_valid_pth(dir, zip64);
    EXPECT_EQ(read_pth(test::map_bytes(full)).size(), 3u);
    for (size_t n = 0; n < full.size(); ++n)
      EXPECT_THROW(read_pth(test::map_bytes(full.substr(0, n))), Error) << "prefix " << n << " zip64 " << zip64;
  }
}

TEST(PthDamage, FlippedBytesNeverCrash) {
  test::TempDir dir;
  for (bool zip64 : {false, true}) {
    const std::string full = small_valid_pth(dir, zip64);
    int refused = 0;
    for (size_t i = 0; i < full.size(); ++i) {
      for (unsigned char x : {0x01, 0x80, 0xff}) {
        std::string bad = full;
        bad[i] = static_cast<char>(bad[i] ^ x);
        try {
          const TensorMap m = read_pth(test::map_bytes(bad));
          for (const auto& name : m.names()) (void)tensor_to_f32(m.get(name));  // touch every byte
        } catch (const Error&) {
          ++refused;
        }
      }
    }
    EXPECT_GT(refused, 100);
  }
}

}  // namespace
}  // namespace rwkv
