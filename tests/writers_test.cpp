// write_pth and write_safetensors: round trips through our readers, an independent check of
// the zip and pickle with Python's zipfile/pickle (when python3 is present), and failures
// (full disk, quantized tensors) that must leave no file behind.
#include "io/writers.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "io/readers.h"
#include "support/fixtures.h"
#include "support/pth_builder.h"
#include "util/error.h"

namespace rwkv {
namespace {

// A map of f32/f16/bf16 tensors of assorted shapes (scalar, empty, odd sizes) with distinct values.
TensorMap sample_tensors() {
  TensorMap m("sample");
  auto add = [&](const std::string& name, DType dt, Shape shape) {
    const int64_t n = shape_numel(shape);
    std::vector<std::byte> bytes(static_cast<size_t>(n * dtype_block_bytes(dt)));
    for (int64_t i = 0; i < n; ++i) {
      const float v = static_cast<float>(i % 251) * 0.5f - 17.0f + static_cast<float>(name.size());
      if (dt == DType::F32) std::memcpy(bytes.data() + i * 4, &v, 4);
      const uint16_t h = dt == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
      if (dt != DType::F32) std::memcpy(bytes.data() + i * 2, &h, 2);
    }
    m.add_owned(name, dt, std::move(shape), std::move(bytes));
  };
  add("emb.weight", DType::F32, {7, 5});
  add("blocks.0.att.x_r", DType::BF16, {1, 1, 13});
  add("blocks.0.ln1.bias", DType::F16, {3});
  add("head.weight", DType::BF16, {5, 3, 2});
  add("scalar", DType::F32, {});
  add("empty", DType::F16, {0, 4});
  add("odd", DType::F16, {1});
  return m;
}

void expect_same(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.names(), b.names());
  for (const auto& name : a.names()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(a.get(name).dtype, b.get(name).dtype);
    EXPECT_EQ(a.get(name).shape, b.get(name).shape);
    ASSERT_EQ(a.get(name).bytes.size(), b.get(name).bytes.size());
    if (!a.get(name).bytes.empty()) {
      EXPECT_EQ(std::memcmp(a.get(name).data(), b.get(name).data(), a.get(name).bytes.size()), 0);
    }
  }
}

bool inside(const MappedFile& f, const TensorView& t) {
  return t.bytes.data() >= f.bytes().data() && t.bytes.data() + t.bytes.size() <= f.bytes().data() + f.size();
}

TEST(WritePth, RoundTripIsZeroCopy) {
  test::TempDir dir;
  const TensorMap src = sample_tensors();
  for (bool zip64 : {false, true}) {
    const auto path = (dir / "out.pth").string();
    write_pth(path, src, {.archive_name = "archive", .force_zip64 = zip64});
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    auto file = MappedFile::open(path);
    const TensorMap back = read_pth(file);
    expect_same(src, back);
    for (const auto& name : back.names())
      if (back.get(name).numel() > 0) {
        EXPECT_TRUE(inside(*file, back.get(name))) << name;
      }
  }
}

TEST(WriteSafetensors, RoundTripAndLayout) {
  test::TempDir dir;
  const TensorMap src = sample_tensors();
  const auto path = (dir / "out.safetensors").string();
  write_safetensors(path, src);
  const std::string bytes = test::read_file(path);
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ(header_len % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  auto file = MappedFile::open(path);
  const TensorMap back = read_safetensors(file);
  expect_same(src, back);
  EXPECT_EQ(back.metadata().at("safetensors.format"), "pt");
  for (const auto& name : back.names()) {  // largest elements first keeps every tensor aligned
    const TensorView& t = back.get(name);
    if (t.numel() > 0) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % dtype_block_bytes(t.dtype), 0u) << name;
    }
  }
}

TEST(WritePth, FixtureRoundTrip) {
  RWKV_FIXTURE_OR_SKIP(pth, "rwkv7-tiny/model-bf16.pth");
  test::TempDir dir;
  const TensorMap src = read_tensor_file(pth.string());
  write_pth((dir / "a.pth").string(), src);
  write_safetensors((dir / "a.safetensors").string(), src);
  expect_same(src, read_tensor_file((dir / "a.pth").string()));
  expect_same(src, read_tensor_file((dir / "a.safetensors").string()));
}

// Python's zipfile checks every CRC and the ZIP64 records; its pickle module, with torch's
// globals stubbed out, decodes the tensors independently of our reader.
constexpr const char* kPythonCheck = R"PY(
import pickle, struct, sys, zipfile, types, collections
path, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(path)
assert z.testzip() is None, "bad CRC"
raw = open(path, 'rb').read()
for info in z.infolist():
    assert info.compress_type == zipfile.ZIP_STORED
    n, e = struct.unpack('<HH', raw[info.header_offset + 26:info.header_offset + 30])
    assert (info.header_offset + 30 + n + e) % 64 == 0, info.filename + " not 64-byte aligned"
assert z.read('archive/byteorder') == b'little' and z.read('archive/version') == b'3\n'
class Storage:
    def __init__(self, kind): self.kind = kind
def rebuild(storage, offset, size, stride, requires_grad, hooks):
    kind, data = storage
    el = {'FloatStorage': 4, 'HalfStorage': 2, 'BFloat16Storage': 2}[kind]
    def value(i):
        b = data[i * el:(i + 1) * el]
        if kind == 'FloatStorage': return struct.unpack('<f', b)[0]
        if kind == 'HalfStorage': return struct.unpack('<e', b)[0]
        return struct.unpack('<f', b'\0\0' + b)[0]
    vals, n = [], 1
    for s in size: n *= s
    for flat in range(n):
        idx, rem = offset, flat
        for d in reversed(range(len(size))):
            idx += (rem % size[d]) * stride[d]; rem //= size[d]
        vals.append(value(idx))
    return (tuple(size), vals)
class U(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'): return rebuild
        if (module, name) == ('collections', 'OrderedDict'): return collections.OrderedDict
        if module == 'torch' and name.endswith('Storage'): return name
        raise pickle.UnpicklingError(module + ' ' + name)
    def persistent_load(self, pid):
        tag, kind, key, location, numel = pid
        assert tag == 'storage' and location == 'cpu'
        return (kind, z.read('archive/data/' + key))
d = U(z.open('archive/data.pkl')).load()
with open(out, 'wb') as f:
    for name in sorted(d):
        size, vals = d[name]
        f.write(struct.pack('<%df' % len(vals), *vals))
)PY";

TEST(WritePth, PythonReadsIt) {
  if (std::system("python3 -c 'import zipfile, pickle' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  test::TempDir dir;
  const TensorMap src = sample_tensors();
  std::vector<float> want;
  for (const auto& name : src.names()) {
    const auto v = tensor_to_f32(src.get(name));
    want.insert(want.end(), v.begin(), v.end());
  }
  test::write_file(dir / "check.py", kPythonCheck);
  for (bool zip64 : {false, true}) {
    write_pth((dir / "out.pth").string(), src, {.archive_name = "archive", .force_zip64 = zip64});
    const std::string cmd = "python3 " + (dir / "check.py").string() + " " + (dir / "out.pth").string() + " " +
                            (dir / "values.f32").string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    EXPECT_EQ(test::read_f32(dir / "values.f32"), want);
  }
}

// A full disk, simulated with a file size limit: a clear Error, and neither the file nor its
// temporary left behind. Runs in a child process so the limit cannot touch anything else.
TEST(Writers, FullDiskLeavesNoFile) {
  test::TempDir dir;
  TensorMap big("big");
  big.add_owned("w", DType::F32, {256, 256}, std::vector<std::byte>(256 * 256 * 4));
  for (const char* name : {"out.pth", "out.safetensors"}) {
    const std::string path = (dir / name).string();
    EXPECT_EXIT(
        {
          std::signal(SIGXFSZ, SIG_IGN);  // exceeding the limit then fails write() with EFBIG
          rlimit lim{};
          getrlimit(RLIMIT_FSIZE, &lim);
          lim.rlim_cur = 100000;
          setrlimit(RLIMIT_FSIZE, &lim);
          try {
            if (path.ends_with(".pth"))
              write_pth(path, big);
            else
              write_safetensors(path, big);
          } catch (const Error& e) {
            const bool clear = std::string(e.what()).find(path) != std::string::npos;
            const bool gone = !std::filesystem::exists(path) && !std::filesystem::exists(path + ".tmp");
            std::_Exit(clear && gone ? 0 : 2);
          }
          std::_Exit(1);
        },
        ::testing::ExitedWithCode(0), "");
  }
}

TEST(Writers, RefuseQuantizedTensors) {
  test::TempDir dir;
  TensorMap m("q");
  m.add_owned("w", DType::Q8_0, {32}, std::vector<std::byte>(34));
  const std::string path = (dir / "q.pth").string();
  EXPECT_THROW(write_pth(path, m), Error);
  EXPECT_THROW(write_safetensors(path, m), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace rwkv
