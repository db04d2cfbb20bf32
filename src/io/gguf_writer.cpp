#include "io/gguf_writer.h"

#include <bit>
#include <set>

#include "io/atomic_file.h"
#include "io/gguf.h"
#include "io/le_bytes.h"
#include "util/error.h"

namespace rwkv {

namespace {

using gguf::ValueType;

void put_string(std::string& out, const std::string& s) {
  append_le<uint64_t>(out, s.size());
  out += s;
}

void put_type(std::string& out, ValueType t) { append_le<uint32_t>(out, static_cast<uint32_t>(t)); }

// Type tag and value of one metadata entry.
void put_value(std::string& out, const GgufValue& value) {
  struct Visitor {
    std::string& out;
    void operator()(uint32_t v) { put_type(out, ValueType::U32), append_le(out, v); }
    void operator()(int32_t v) { put_type(out, ValueType::I32), append_le(out, v); }
    void operator()(uint64_t v) { put_type(out, ValueType::U64), append_le(out, v); }
    void operator()(float v) { put_type(out, ValueType::F32), append_le(out, v); }
    void operator()(bool v) { put_type(out, ValueType::Bool), append_le<uint8_t>(out, v ? 1 : 0); }
    void operator()(const std::string& v) { put_type(out, ValueType::String), put_string(out, v); }
    void operator()(const std::vector<std::string>& v) {
      put_type(out, ValueType::Array);
      put_type(out, ValueType::String);
      append_le<uint64_t>(out, v.size());
      for (const auto& s : v) put_string(out, s);
    }
    void operator()(const std::vector<int32_t>& v) {
      put_type(out, ValueType::Array);
      put_type(out, ValueType::I32);
      append_le<uint64_t>(out, v.size());
      for (int32_t x : v) append_le(out, x);
    }
  };
  std::visit(Visitor{out}, value);
}

uint64_t byte_size(const TensorSource& t) {
  return static_cast<uint64_t>(shape_numel(t.shape) / dtype_block_size(t.dtype)) *
         static_cast<uint64_t>(dtype_block_bytes(t.dtype));
}

uint64_t padding(uint64_t n, uint64_t alignment) { return (alignment - n % alignment) % alignment; }

}  // namespace

void write_gguf(const std::string& path, const std::vector<TensorSource>& tensors, const GgufMetadata& metadata,
                uint32_t alignment) {
  if (alignment == 0 || !std::has_single_bit(alignment))
    throw Error("{}: GGUF alignment {} is not a power of two", path, alignment);
  std::set<std::string> keys;
  for (const auto& [key, value] : metadata)
    if (key.empty() || !keys.insert(key).second || key == "general.alignment")
      throw Error("{}: metadata key '{}' is empty, repeated or reserved", path, key);

  std::string header;
  append_le<uint32_t>(header, gguf::kMagic);
  append_le<uint32_t>(header, 3);
  append_le<uint64_t>(header, tensors.size());
  append_le<uint64_t>(header, metadata.size() + (alignment != gguf::kDefaultAlignment ? 1 : 0));
  if (alignment != gguf::kDefaultAlignment) {
    put_string(header, "general.alignment");
    put_value(header, GgufValue(alignment));
  }
  for (const auto& [key, value] : metadata) {
    put_string(header, key);
    put_value(header, value);
  }

  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorSource& t : tensors) {
    if (t.name.empty() || !names.insert(t.name).second)
      throw Error("{}: tensor name '{}' is empty or repeated", path, t.name);
    if (t.shape.empty() || t.shape.size() > gguf::kMaxDims)
      throw Error("{}: tensor '{}' has {} dimensions; GGUF tensors have 1 to {}", path, t.name, t.shape.size(),
                  gguf::kMaxDims);
    if (t.shape.back() % dtype_block_size(t.dtype) != 0)
      throw Error("{}: tensor '{}' is {} with rows of {}, not whole blocks of {}", path, t.name, dtype_name(t.dtype),
                  t.shape.back(), dtype_block_size(t.dtype));
    put_string(header, t.name);
    append_le<uint32_t>(header, static_cast<uint32_t>(t.shape.size()));
    for (size_t i = t.shape.size(); i-- > 0;) append_le<uint64_t>(header, static_cast<uint64_t>(t.shape[i]));
    append_le<uint32_t>(header, gguf::ggml_type_of(t.dtype));
    append_le<uint64_t>(header, offset);
    offset += byte_size(t);
    offset += padding(offset, alignment);
  }
  header.append(padding(header.size(), alignment), '\0');

  AtomicFileWriter out(path);
  out.write(header);
  std::vector<std::byte> buf;
  const std::string zeros(alignment, '\0');
  for (const TensorSource& t : tensors) {
    buf.resize(static_cast<size_t>(byte_size(t)));
    t.fill(buf);
    out.write(buf);
    out.write(std::string_view(zeros).substr(0, padding(buf.size(), alignment)));
  }
  out.commit();
}

}  // namespace rwkv
