// .safetensors: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data; offsets are relative to the end of the header.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

#include "io/readers.h"
#include "util/error.h"

namespace rwkv {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit

DType safetensors_dtype(const std::string& s, const std::string& path, const std::string& name) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  throw Error("{}: tensor '{}' has dtype {}; supported are F32, F16 and BF16", path, name, s);
}

uint64_t json_u64(const nlohmann::json& j, const std::string& path, const std::string& what) {
  if (!j.is_number_unsigned()) throw Error("{}: {} is not a non-negative integer", path, what);
  return j.get<uint64_t>();
}

}  // namespace

TensorMap read_safetensors(std::shared_ptr<const MappedFile> file) {
  const std::string& path = file->path();
  auto len_bytes = file->slice(0, 8, "safetensors header length");
  uint64_t header_len;
  std::memcpy(&header_len, len_bytes.data(), 8);
  if (header_len > kMaxHeaderBytes) throw Error("{}: safetensors header length {} is implausible", path, header_len);
  auto header = file->slice(8, header_len, "safetensors JSON header");
  const uint64_t data_start = 8 + header_len;

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(reinterpret_cast<const char*>(header.data()),
                              reinterpret_cast<const char*>(header.data()) + header.size());
  } catch (const nlohmann::json::exception& e) {
    throw Error("{}: safetensors header is not valid JSON: {}", path, e.what());
  }
  if (!j.is_object()) throw Error("{}: safetensors header is not a JSON object", path);

  TensorMap map(path);
  struct Range {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) throw Error("{}: __metadata__ is not an object", path);
      for (auto m = e.begin(); m != e.end(); ++m)
        if (m.value().is_string()) map.metadata()["safetensors." + m.key()] = m.value().get<std::string>();
      continue;
    }
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw Error("{}: tensor '{}' lacks dtype, shape or data_offsets", path, name);
    if (!e["dtype"].is_string()) throw Error("{}: tensor '{}' dtype is not a string", path, name);
    const DType dtype = safetensors_dtype(e["dtype"].get<std::string>(), path, name);
    if (!e["shape"].is_array()) throw Error("{}: tensor '{}' shape is not an array", path, name);
    Shape shape;
    for (const auto& d : e["shape"]) {
      const uint64_t v = json_u64(d, path, "a dimension of '" + name + "'");
      if (v > (uint64_t{1} << 40)) throw Error("{}: tensor '{}' has an implausible dimension {}", path, name, v);
      shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2) throw Error("{}: tensor '{}' data_offsets is not [begin, end]", path, name);
    const uint64_t begin = json_u64(off[0], path, "data_offsets of '" + name + "'");
    const uint64_t end = json_u64(off[1], path, "data_offsets of '" + name + "'");
    if (end < begin) throw Error("{}: tensor '{}' data_offsets end {} < begin {}", path, name, end, begin);
    const uint64_t need = static_cast<uint64_t>(shape_numel(shape)) * static_cast<uint64_t>(dtype_block_bytes(dtype));
    if (end - begin != need)
      throw Error("{}: tensor '{}' {} {} needs {} bytes but data_offsets give {}", path, name, dtype_name(dtype),
                  shape_str(shape), need, end - begin);
    if (begin > file->size() - data_start)
      throw Error("{}: tensor '{}' data at offset {} lies past the end of the file", path, name, begin);
    auto bytes = file->slice(data_start + begin, end - begin, "data of tensor '" + name + "'");
    ranges.push_back({begin, end, name});
    map.add(TensorView{name, dtype, std::move(shape), bytes});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  const Range* widest = nullptr;  // the range reaching furthest so far
  for (const Range& r : ranges) {
    if (r.begin == r.end) continue;  // empty tensors occupy no bytes
    if (widest && r.begin < widest->end)
      throw Error("{}: tensors '{}' and '{}' overlap in the file", path, widest->name, r.name);
    if (!widest || r.end > widest->end) widest = &r;
  }
  attach_file(map, file);
  return map;
}

}  // namespace rwkv
