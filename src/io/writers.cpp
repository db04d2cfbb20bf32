#include "io/writers.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/le_bytes.h"
#include "io/pickle_writer.h"
#include "io/zip_writer.h"
#include "util/error.h"

namespace rwkv {

namespace {

// The float types both formats share; quantized blocks have no .pth or safetensors spelling.
void check_float(const std::string& path, const std::string& name, DType dtype) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    throw Error("{}: tensor '{}' is {}; only f32, f16 and bf16 can be written", path, name, dtype_name(dtype));
}

const char* torch_storage_class(DType t) {
  switch (t) {
    case DType::F32: return "FloatStorage";
    case DType::F16: return "HalfStorage";
    default: return "BFloat16Storage";
  }
}

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    default: return "BF16";
  }
}

// Row-major strides of a contiguous tensor, in elements.
std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> stride(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    stride[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return stride;
}

uint64_t byte_size(const TensorSource& t) {
  return static_cast<uint64_t>(shape_numel(t.shape)) * static_cast<uint64_t>(dtype_block_bytes(t.dtype));
}

// Produces one tensor's bytes into a reused buffer.
std::span<const std::byte> produce(const TensorSource& t, std::vector<std::byte>& buf) {
  buf.resize(static_cast<size_t>(byte_size(t)));
  t.fill(buf);
  return buf;
}

// Sources that read a TensorMap's views, in name order.
std::vector<TensorSource> sources_of(const TensorMap& tensors) {
  std::vector<TensorSource> out;
  for (const std::string& name : tensors.names()) {
    const TensorView* v = &tensors.get(name);
    out.push_back({name, v->dtype, v->shape, [v](std::span<std::byte> dst) {
                     std::copy(v->bytes.begin(), v->bytes.end(), dst.begin());
                   }});
  }
  return out;
}

}  // namespace

void write_pth(const std::string& path, const std::vector<TensorSource>& tensors, const PthWriteOptions& options) {
  const std::string& stem = options.archive_name;
  if (stem.empty() || stem.find('/') != std::string::npos)
    throw Error("{}: bad archive name '{}'", path, stem);
  for (const TensorSource& t : tensors) check_float(path, t.name, t.dtype);

  PickleWriter p;
  p.empty_dict();
  if (!tensors.empty()) {
    p.mark();
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorSource& t = tensors[i];
      p.string(t.name);
      p.tensor(torch_storage_class(t.dtype), std::to_string(i), shape_numel(t.shape), 0, t.shape,
               contiguous_strides(t.shape));
    }
    p.setitems();
  }
  p.stop();

  AtomicFileWriter out(path);
  ZipWriter zip(out, options.force_zip64);
  zip.add_entry(stem + "/data.pkl", p.bytes());
  zip.add_entry(stem + "/byteorder", std::string_view("little"));
  std::vector<std::byte> buf;
  for (size_t i = 0; i < tensors.size(); ++i)
    zip.add_entry(stem + "/data/" + std::to_string(i), produce(tensors[i], buf));
  zip.add_entry(stem + "/version", std::string_view("3\n"));
  zip.finish();
  out.commit();
}

void write_pth(const std::string& path, const TensorMap& tensors, const PthWriteOptions& options) {
  write_pth(path, sources_of(tensors), options);
}

void write_safetensors(const std::string& path, const std::vector<TensorSource>& tensors) {
  std::vector<const TensorSource*> order;
  for (const TensorSource& t : tensors) {
    check_float(path, t.name, t.dtype);
    order.push_back(&t);
  }
  std::stable_sort(order.begin(), order.end(), [](const TensorSource* a, const TensorSource* b) {
    return dtype_block_bytes(a->dtype) > dtype_block_bytes(b->dtype);
  });

  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const TensorSource* t : order) {
    header[t->name] = {{"dtype", safetensors_dtype(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + byte_size(*t)}}};
    offset += byte_size(*t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  AtomicFileWriter out(path);
  std::string len;
  append_le<uint64_t>(len, text.size());
  out.write(len);
  out.write(text);
  std::vector<std::byte> buf;
  for (const TensorSource* t : order) out.write(produce(*t, buf));
  out.commit();
}

void write_safetensors(const std::string& path, const TensorMap& tensors) {
  write_safetensors(path, sources_of(tensors));
}

}  // namespace rwkv
