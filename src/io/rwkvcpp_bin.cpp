// rwkv.cpp .bin (rwkv.cpp docs/FILE_FORMAT.md). All integers are little-endian int32:
//   header: magic 0x67676d66 ("ggmf"), version 100|101, n_vocab, n_embed, n_layer, data_type
//   then, until the end of the file, per tensor:
//     dim_count (1..3), key_length, data_type, ne[dim_count], key (UTF-8), data
// ne[] is ggml's order, the PyTorch shape reversed; we store the PyTorch order. The data follows
// the key without padding, so most tensors start at an odd offset: those are copied into aligned
// memory (every consumer may then read them as float/half arrays), the others stay mapped.
// This reader gives the tensors as rwkv.cpp stored them; models/rwkvcpp_layout.cpp undoes the
// converter's reshapes and transposes.
#include <cstring>
#include <optional>

#include "io/readers.h"
#include "util/error.h"

namespace rwkv {

namespace {

constexpr uint32_t kMagic = 0x67676d66u;
constexpr int32_t kMaxKeyLength = 4096;

// rwkv.cpp's data types (rwkv_file_format.inc); `dtype` is empty for types we cannot size.
struct TypeInfo {
  const char* name;
  std::optional<DType> dtype;
};
constexpr TypeInfo kTypes[] = {
    {"FP32", DType::F32},     {"FP16", DType::F16},     {"Q4_0", DType::Q4_0},        {"Q4_1", DType::Q4_1},
    {"Q4_1_O", std::nullopt}, {"Q4_2", std::nullopt},   {"Q4_3", std::nullopt},       {"Q5_0", DType::Q5_0},
    {"Q5_1", DType::Q5_1},    {"Q8_0", DType::Q8_0},    {"Q8_1", std::nullopt},       {"Q2_K", DType::Q2_K},
    {"Q3_K", DType::Q3_K},    {"Q4_K", DType::Q4_K},    {"Q5_K", DType::Q5_K},       {"Q6_K", DType::Q6_K},
    {"Q8_K", std::nullopt},
};
constexpr int32_t kTypeCount = static_cast<int32_t>(sizeof(kTypes) / sizeof(kTypes[0]));

// Reads int32 values with bounds checks, tracking the offset for messages.
class Cursor {
 public:
  explicit Cursor(const MappedFile& f) : f_(f) {}
  uint64_t offset() const { return off_; }
  bool at_end() const { return off_ == f_.size(); }
  int32_t i32(std::string_view what) {
    auto b = f_.slice(off_, 4, what);
    int32_t v;
    std::memcpy(&v, b.data(), 4);
    off_ += 4;
    return v;
  }
  std::span<const std::byte> bytes(uint64_t n, std::string_view what) {
    auto b = f_.slice(off_, n, what);
    off_ += n;
    return b;
  }

 private:
  const MappedFile& f_;
  uint64_t off_ = 0;
};

// The DType of an rwkv.cpp type id; `where` names the header or the tensor for messages.
DType checked_type(const MappedFile& f, int32_t id, int32_t version, const std::string& where) {
  if (id < 0 || id >= kTypeCount)
    throw Error("{}: {} has data type {}, which rwkv.cpp does not define (0 FP32, 1 FP16, 2-3 Q4, 7-8 Q5, 9 Q8_0, ...)",
                f.path(), where, id);
  const TypeInfo& t = kTypes[id];
  if (!t.dtype) throw Error("{}: {} has data type {} ({}), which we cannot read", f.path(), where, t.name, id);
  if (dtype_is_quantized(*t.dtype) && version == 100)
    throw Error("{}: {} is {} in a version-100 file: quantized blocks of rwkv.cpp before version 101 use an old ggml "
                "layout that nothing reads any more; quantize the model again",
                f.path(), where, t.name);
  return *t.dtype;
}

const char* type_name(int32_t id) { return id >= 0 && id < kTypeCount ? kTypes[id].name : "unknown"; }

}  // namespace

TensorMap read_rwkvcpp_bin(std::shared_ptr<const MappedFile> file) {
  const MappedFile& f = *file;
  Cursor c(f);
  const uint32_t magic = static_cast<uint32_t>(c.i32("rwkv.cpp magic"));
  if (magic != kMagic) throw Error("{}: not an rwkv.cpp file (magic {:#x}, expected {:#x})", f.path(), magic, kMagic);
  const int32_t version = c.i32("rwkv.cpp header version");
  if (version != 100 && version != 101)
    throw Error("{}: rwkv.cpp file version {}; versions 100 and 101 exist", f.path(), version);
  const int32_t n_vocab = c.i32("rwkv.cpp header n_vocab");
  const int32_t n_embed = c.i32("rwkv.cpp header n_embed");
  const int32_t n_layer = c.i32("rwkv.cpp header n_layer");
  const int32_t file_type = c.i32("rwkv.cpp header data_type");
  if (n_vocab <= 0 || n_embed <= 0 || n_layer <= 0)
    throw Error("{}: rwkv.cpp header has n_vocab {}, n_embed {}, n_layer {}; all must be positive", f.path(), n_vocab,
                n_embed, n_layer);
  checked_type(f, file_type, version, "the header");

  TensorMap map(f.path());
  map.metadata()["rwkvcpp.version"] = std::to_string(version);
  map.metadata()["rwkvcpp.n_vocab"] = std::to_string(n_vocab);
  map.metadata()["rwkvcpp.n_embed"] = std::to_string(n_embed);
  map.metadata()["rwkvcpp.n_layer"] = std::to_string(n_layer);
  map.metadata()["rwkvcpp.data_type"] = type_name(file_type);

  while (!c.at_end()) {
    const uint64_t start = c.offset();
    const int32_t dims = c.i32("tensor header (dim_count)");
    const int32_t key_length = c.i32("tensor header (key_length)");
    const int32_t type = c.i32("tensor header (data_type)");
    if (dims < 1 || dims > 3)
      throw Error("{}: tensor header at byte {} has dim_count {}; rwkv.cpp tensors have 1 to 3 dimensions", f.path(),
                  start, dims);
    if (key_length < 1 || key_length > kMaxKeyLength)
      throw Error("{}: tensor header at byte {} has key_length {}; expected 1 to {}", f.path(), start, key_length,
                  kMaxKeyLength);
    int32_t ne[3];
    for (int32_t i = 0; i < dims; ++i) ne[i] = c.i32("tensor header (shape)");
    const auto key_bytes = c.bytes(static_cast<uint64_t>(key_length), "tensor name");
    const std::string name(reinterpret_cast<const char*>(key_bytes.data()), key_bytes.size());
    if (name.find('\0') != std::string::npos)
      throw Error("{}: tensor name at byte {} contains a NUL byte", f.path(), c.offset() - key_bytes.size());
    const DType dtype = checked_type(f, type, version, "tensor '" + name + "'");

    Shape shape;  // PyTorch order: ne reversed
    for (int32_t i = dims - 1; i >= 0; --i) {
      if (ne[i] < 1)
        throw Error("{}: tensor '{}' (header at byte {}) has dimension {}; dimensions must be positive", f.path(), name,
                    start, ne[i]);
      shape.push_back(ne[i]);
    }
    // Every type takes at least half a byte per element: bound the count by what remains before
    // multiplying, so no product of the three int32 dimensions can overflow.
    const uint64_t remaining = f.size() - c.offset();
    uint64_t numel = 1;
    for (int64_t d : shape) {
      if (numel > (2 * remaining + 1) / static_cast<uint64_t>(d))
        throw Error("{}: tensor '{}' {} {} is larger than the {} bytes that remain at byte {}; the file is truncated or "
                    "corrupt",
                    f.path(), name, dtype_name(dtype), shape_str(shape), remaining, c.offset());
      numel *= static_cast<uint64_t>(d);
    }
    const uint64_t block = static_cast<uint64_t>(dtype_block_size(dtype));
    if (static_cast<uint64_t>(ne[0]) % block != 0)
      throw Error("{}: tensor '{}' is {} with rows of {} elements, not a whole number of blocks of {}", f.path(), name,
                  dtype_name(dtype), ne[0], block);
    const uint64_t size = numel / block * static_cast<uint64_t>(dtype_block_bytes(dtype));
    if (size > remaining)
      throw Error("{}: tensor '{}' {} {} needs {} bytes at byte {}, but only {} remain; the file is truncated or corrupt",
                  f.path(), name, dtype_name(dtype), shape_str(shape), size, c.offset(), remaining);
    const auto data = c.bytes(size, "data of tensor '" + name + "'");

    // float/half/quantized-block fields need their natural alignment: 4 for f32, 2 otherwise.
    const size_t align = dtype == DType::F32 ? 4 : 2;
    if (reinterpret_cast<uintptr_t>(data.data()) % align == 0) {
      map.add(TensorView{name, dtype, std::move(shape), data});
    } else {
      map.add_owned(name, dtype, std::move(shape), std::vector<std::byte>(data.begin(), data.end()));
    }
  }
  attach_file(map, file);
  return map;
}

}  // namespace rwkv
