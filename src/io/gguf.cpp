// The GGUF reader (layout in gguf.h). Every count, length, dimension and offset is checked
// against the bytes that remain before it is used, so a truncated or lying file gives an Error
// naming the file, the key or tensor and the byte offset, never a huge allocation or a read past
// the end. Tensors are views into the mapped file when their data is aligned to their element
// (always, for files that follow the spec); otherwise they are copied.
//
// Metadata goes into TensorMap::metadata() under the file's own keys, as text: numbers in
// decimal, booleans as true/false, strings as is, arrays as JSON arrays (so the tokenizer's
// token list survives); arrays of more than 2^20 items are summarised. Two keys are ours:
// `gguf.version` and `gguf.alignment`.
#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/gguf.h"
#include "io/readers.h"
#include "util/error.h"

namespace rwkv {

namespace {

using gguf::ValueType;

constexpr uint64_t kMaxKeyLength = 1 << 16;    // keys and tensor names
constexpr uint64_t kMaxArrayKept = 1 << 20;    // items of an array kept as JSON text
constexpr uint64_t kMaxAlignment = 1 << 30;

class Cursor {
 public:
  explicit Cursor(const MappedFile& f) : f_(f) {}
  uint64_t offset() const { return off_; }
  uint64_t remaining() const { return f_.size() - off_; }
  const std::string& path() const { return f_.path(); }

  template <typename T>
  T read(std::string_view what) {
    T v;
    std::memcpy(&v, f_.slice(off_, sizeof(T), what).data(), sizeof(T));
    off_ += sizeof(T);
    return v;
  }
  std::string string(std::string_view what, uint64_t max_length) {
    const uint64_t at = off_;
    const uint64_t n = read<uint64_t>(what);
    if (n > max_length || n > remaining())
      throw Error("{}: {} at byte {} has length {}, but {} bytes remain{}; the file is truncated or corrupt", path(),
                  what, at, n, remaining(), n > max_length ? fmt::format(" (at most {} allowed)", max_length) : "");
    const auto b = f_.slice(off_, n, what);
    off_ += n;
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  void skip(uint64_t n, std::string_view what) {
    f_.slice(off_, n, what);
    off_ += n;
  }

 private:
  const MappedFile& f_;
  uint64_t off_ = 0;
};

// One scalar value (any type but array).
nlohmann::json read_scalar(Cursor& c, uint32_t type, const std::string& key) {
  const std::string what = "value of '" + key + "'";
  switch (static_cast<ValueType>(type)) {
    case ValueType::U8: return c.read<uint8_t>(what);
    case ValueType::I8: return c.read<int8_t>(what);
    case ValueType::U16: return c.read<uint16_t>(what);
    case ValueType::I16: return c.read<int16_t>(what);
    case ValueType::U32: return c.read<uint32_t>(what);
    case ValueType::I32: return c.read<int32_t>(what);
    case ValueType::U64: return c.read<uint64_t>(what);
    case ValueType::I64: return c.read<int64_t>(what);
    case ValueType::F32: return c.read<float>(what);
    case ValueType::F64: return c.read<double>(what);
    case ValueType::Bool: {
      const uint64_t at = c.offset();
      const uint8_t b = c.read<uint8_t>(what);
      if (b > 1) throw Error("{}: {} at byte {} is a bool of value {} (0 or 1 expected)", c.path(), what, at, b);
      return b != 0;
    }
    case ValueType::String: return c.string(what, UINT64_MAX);
    default: break;
  }
  throw Error("{}: {} at byte {} has type {}, which GGUF does not define", c.path(), what, c.offset(), type);
}

std::string to_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// An array value: JSON text of its items, or a summary when it is very long.
std::string array_text(Cursor& c, const std::string& key) {
  const uint64_t at = c.offset();
  const uint32_t type = c.read<uint32_t>("array type of '" + key + "'");
  const uint64_t count = c.read<uint64_t>("array length of '" + key + "'");
  if (type == static_cast<uint32_t>(ValueType::Array))
    throw Error("{}: metadata '{}' at byte {} is an array of arrays, which we do not read", c.path(), key, at);
  const uint64_t size = gguf::value_size(type);
  if (size == 0 && type != static_cast<uint32_t>(ValueType::String))
    throw Error("{}: metadata '{}' at byte {} is an array of type {}, which GGUF does not define", c.path(), key, at,
                type);
  // Each item takes at least `size` bytes (8 for a string's length): bound the count first.
  const uint64_t min_item = size ? size : 8;
  if (count > c.remaining() / min_item)
    throw Error("{}: metadata '{}' at byte {} claims {} items of {}, more than the {} bytes that remain; the file is "
                "truncated or corrupt",
                c.path(), key, at, count, gguf::value_type_name(type), c.remaining());
  if (count > kMaxArrayKept) {
    if (size) {
      c.skip(count * size, "array '" + key + "'");
    } else {
      for (uint64_t i = 0; i < count; ++i) c.string("item of '" + key + "'", UINT64_MAX);
    }
    return fmt::format("[array of {} {}]", count, gguf::value_type_name(type));
  }
  nlohmann::json items = nlohmann::json::array();
  for (uint64_t i = 0; i < count; ++i) items.push_back(read_scalar(c, type, key));
  return to_text(items);
}

struct TensorInfo {
  std::string name;
  Shape shape;  // PyTorch order
  DType dtype;
  uint64_t offset, size;
  uint64_t header_at;  // where its info starts, for messages
};

TensorInfo read_tensor_info(Cursor& c) {
  TensorInfo t;
  t.header_at = c.offset();
  t.name = c.string("tensor name", kMaxKeyLength);
  if (t.name.empty() || t.name.find('\0') != std::string::npos)
    throw Error("{}: tensor info at byte {} has an empty name or one with a NUL byte", c.path(), t.header_at);
  const uint32_t dims = c.read<uint32_t>("dimension count of '" + t.name + "'");
  if (dims < 1 || dims > gguf::kMaxDims)
    throw Error("{}: tensor '{}' (info at byte {}) has {} dimensions; ggml tensors have 1 to {}", c.path(), t.name,
                t.header_at, dims, gguf::kMaxDims);
  std::vector<uint64_t> ne(dims);
  for (auto& n : ne) {
    n = c.read<uint64_t>("shape of '" + t.name + "'");
    if (n < 1 || n > (uint64_t{1} << 62))
      throw Error("{}: tensor '{}' (info at byte {}) has dimension {}; dimensions must be 1 to 2^62", c.path(), t.name,
                  t.header_at, n);
  }
  const uint32_t type = c.read<uint32_t>("type of '" + t.name + "'");
  const auto dtype = gguf::dtype_of(type);
  if (!dtype)
    throw Error("{}: tensor '{}' has ggml type {} ({}), which we cannot read (we read F32, F16, BF16, Q4_0, Q4_1, "
                "Q5_0, Q5_1, Q8_0 and Q2_K..Q6_K)",
                c.path(), t.name, gguf::ggml_type_name(type), type);
  t.dtype = *dtype;
  t.offset = c.read<uint64_t>("data offset of '" + t.name + "'");
  for (size_t i = ne.size(); i-- > 0;) t.shape.push_back(static_cast<int64_t>(ne[i]));
  const uint64_t block = static_cast<uint64_t>(dtype_block_size(t.dtype));
  if (ne[0] % block != 0)
    throw Error("{}: tensor '{}' is {} with rows of {} elements, not a whole number of blocks of {}", c.path(), t.name,
                dtype_name(t.dtype), ne[0], block);
  // The byte size, without overflow: no tensor can be larger than the file.
  uint64_t blocks = ne[0] / block;
  for (size_t i = 1; i < ne.size(); ++i) {
    if (ne[i] > (uint64_t{1} << 62) / blocks)
      throw Error("{}: tensor '{}' {} is too large", c.path(), t.name, shape_str(t.shape));
    blocks *= ne[i];
  }
  const uint64_t bytes = static_cast<uint64_t>(dtype_block_bytes(t.dtype));
  if (blocks > UINT64_MAX / bytes) throw Error("{}: tensor '{}' {} is too large", c.path(), t.name, shape_str(t.shape));
  t.size = blocks * bytes;
  return t;
}

}  // namespace

TensorMap read_gguf(std::shared_ptr<const MappedFile> file) {
  const MappedFile& f = *file;
  Cursor c(f);
  const uint32_t magic = c.read<uint32_t>("GGUF magic");
  if (magic != gguf::kMagic) throw Error("{}: not a GGUF file (magic {:#010x})", f.path(), magic);
  const uint32_t version = c.read<uint32_t>("GGUF version");
  if (version == 1)
    throw Error("{}: GGUF version 1 (the 2023 pre-release layout with 32-bit counts) is not supported; convert the "
                "model again with a current llama.cpp",
                f.path());
  if (version != 2 && version != 3) throw Error("{}: GGUF version {}; versions 2 and 3 exist", f.path(), version);
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Smallest possible entries: a key (8-byte length) + type + 1 byte; a tensor info of 32 bytes.
  if (n_kv > c.remaining() / 13 || n_tensors > c.remaining() / 32)
    throw Error("{}: the header claims {} metadata entries and {} tensors, more than the {} bytes of the file can hold; "
                "the file is truncated or corrupt",
                f.path(), n_kv, n_tensors, f.size());

  TensorMap map(f.path());
  auto& meta = map.metadata();
  meta["gguf.version"] = std::to_string(version);
  uint64_t alignment = gguf::kDefaultAlignment;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t at = c.offset();
    std::string key = c.string("metadata key", kMaxKeyLength);
    const uint32_t type = c.read<uint32_t>("type of metadata '" + key + "'");
    std::string text;
    if (type == static_cast<uint32_t>(ValueType::Array)) {
      text = array_text(c, key);
    } else {
      const nlohmann::json v = read_scalar(c, type, key);
      text = to_text(v);
      if (key == "general.alignment") {
        const uint64_t a = v.is_number_unsigned() ? v.get<uint64_t>() : 0;
        if (a == 0 || a > kMaxAlignment || !std::has_single_bit(a))
          throw Error("{}: general.alignment at byte {} is {} ({}); it must be an unsigned power of two up to 2^30",
                      f.path(), at, text, gguf::value_type_name(type));
        alignment = a;
      }
    }
    if (key == "general.alignment" && type == static_cast<uint32_t>(ValueType::Array))
      throw Error("{}: general.alignment at byte {} is an array", f.path(), at);
    if (!meta.emplace(key, std::move(text)).second)
      throw Error("{}: metadata key '{}' appears twice (again at byte {})", f.path(), key, at);
  }
  meta["gguf.alignment"] = std::to_string(alignment);

  std::vector<TensorInfo> infos;
  infos.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) infos.push_back(read_tensor_info(c));

  // The data section starts at the next multiple of the alignment.
  const uint64_t data_start = (c.offset() + alignment - 1) / alignment * alignment;
  if (n_tensors > 0 && data_start > f.size())
    throw Error("{}: the tensor data would start at byte {}, past the end of the file ({} bytes); the file is truncated",
                f.path(), data_start, f.size());
  const uint64_t data_size = n_tensors > 0 ? f.size() - data_start : 0;
  for (const TensorInfo& t : infos) {
    if (t.offset % alignment != 0)
      throw Error("{}: tensor '{}' has data offset {}, not a multiple of the alignment {}", f.path(), t.name, t.offset,
                  alignment);
    if (t.offset > data_size || t.size > data_size - t.offset)
      throw Error("{}: tensor '{}' {} {} needs {} bytes at byte {}, past the end of the file ({} bytes); the file is "
                  "truncated or corrupt",
                  f.path(), t.name, dtype_name(t.dtype), shape_str(t.shape), t.size, data_start + t.offset, f.size());
  }
  // No two tensors may share bytes.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : infos) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo &a = *by_offset[i - 1], &b = *by_offset[i];
    if (b.offset < a.offset + a.size)
      throw Error("{}: tensors '{}' (bytes {}..{}) and '{}' (from byte {}) overlap", f.path(), a.name,
                  data_start + a.offset, data_start + a.offset + a.size, b.name, data_start + b.offset);
  }

  for (TensorInfo& t : infos) {
    const auto data = f.slice(data_start + t.offset, t.size, "data of tensor '" + t.name + "'");
    const size_t align = t.dtype == DType::F32 ? 4 : 2;  // f32/f16 fields; blocks start with f16s
    if (reinterpret_cast<uintptr_t>(data.data()) % align == 0) {
      map.add(TensorView{std::move(t.name), t.dtype, std::move(t.shape), data});
    } else {
      map.add_owned(std::move(t.name), t.dtype, std::move(t.shape), std::vector<std::byte>(data.begin(), data.end()));
    }
  }
  attach_file(map, file);
  return map;
}

}  // namespace rwkv
