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
void check_float(const std::string& path, const TensorView& t) {
  if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
    throw Error("{}: tensor '{}' is {}; only f32, f16 and bf16 can be written", path, t.name, dtype_name(t.dtype));
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

}  // namespace

void write_pth(const std::string& path, const TensorMap& tensors, const PthWriteOptions& options) {
  const std::string& stem = options.archive_name;
  if (stem.empty() || stem.find('/') != std::string::npos) throw Error("{}: bad archive name '{}'", path, stem);
  std::vector<const TensorView*> order;
  for (const std::string& name : tensors.names()) {
    order.push_back(&tensors.get(name));
    check_float(path, *order.back());
  }

  PickleWriter p;
  p.empty_dict();
  if (!order.empty()) {
    p.mark();
    for (size_t i = 0; i < order.size(); ++i) {
      const TensorView& t = *order[i];
      p.string(t.name);
      p.tensor(torch_storage_class(t.dtype), std::to_string(i), t.numel(), 0, t.shape, contiguous_strides(t.shape));
    }
    p.setitems();
  }
  p.stop();

  AtomicFileWriter out(path);
  ZipWriter zip(out, options.force_zip64);
  zip.add_entry(stem + "/data.pkl", p.bytes());
  zip.add_entry(stem + "/byteorder", std::string_view("little"));
  for (size_t i = 0; i < order.size(); ++i) zip.add_entry(stem + "/data/" + std::to_string(i), order[i]->bytes);
  zip.add_entry(stem + "/version", std::string_view("3\n"));
  zip.finish();
  out.commit();
}

void write_safetensors(const std::string& path, const TensorMap& tensors) {
  std::vector<const TensorView*> order;
  for (const std::string& name : tensors.names()) {
    order.push_back(&tensors.get(name));
    check_float(path, *order.back());
  }
  std::stable_sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    return dtype_block_bytes(a->dtype) > dtype_block_bytes(b->dtype);
  });

  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const TensorView* t : order) {
    header[t->name] = {{"dtype", safetensors_dtype(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->bytes.size()}}};
    offset += t->bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  AtomicFileWriter out(path);
  std::string len;
  append_le<uint64_t>(len, text.size());
  out.write(len);
  out.write(text);
  for (const TensorView* t : order) out.write(t->bytes);
  out.commit();
}

}  // namespace rwkv
