// PyTorch .pth (torch.save, zip format since torch 1.6): a zip of stored entries
//   <stem>/data.pkl      the pickled dict: name -> _rebuild_tensor_v2(storage, offset, size, stride, ...)
//   <stem>/data/<key>    each storage's raw little-endian bytes
//   <stem>/version, <stem>/byteorder (torch >= 2.0), ...
// where <stem> is the file's stem (torch 1.x) or "archive" (torch 2.x). Contiguous, aligned
// tensors are views into the mapped file; others are gathered into owned buffers.
#include <cstring>
#include <map>
#include <string_view>
#include <utility>

#include "io/pickle.h"
#include "io/readers.h"
#include "io/zip.h"
#include "util/error.h"

namespace rwkv {

namespace {

using pickle::Kind;
using pickle::Object;

constexpr uint64_t kMaxPickleBytes = uint64_t{256} << 20;
constexpr size_t kMaxDims = 32;
constexpr int64_t kMaxDim = int64_t{1} << 40;

// The storage classes we read, by the name the pickle gives them.
constexpr std::pair<std::string_view, DType> kStorageDTypes[] = {
    {"torch.FloatStorage", DType::F32}, {"torch.HalfStorage", DType::F16}, {"torch.BFloat16Storage", DType::BF16}};

// torch 1.0-1.5 wrote a bare pickle stream starting with PROTO 2 and this 10-byte LONG1 magic.
bool is_legacy_torch_file(const MappedFile& f) {
  static constexpr unsigned char kMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
  return f.size() >= sizeof kMagic && std::memcmp(f.bytes().data(), kMagic, sizeof kMagic) == 0;
}

struct Storage {
  std::string class_name;
  DType dtype;
  int64_t numel;
  std::span<const std::byte> bytes;
};

struct TensorRecord {
  const Object* storage_id;  // the persistent id tuple
  int64_t offset;
  Shape size, stride;
};

// Reads one tensor out of a state dict: errors name the file, data.pkl, the tensor and the
// pickle byte offset of the offending object.
class TensorReader {
 public:
  TensorReader(const ZipArchive& zip, std::string stem, std::string where)
      : zip_(zip), stem_(std::move(stem)), where_(std::move(where)) {}

  void read(const std::string& name, const Object& value, TensorMap& map) {
    name_ = &name;
    const TensorRecord rec = parse_tensor(value);
    const Storage& st = storage(*rec.storage_id);
    add(rec, st, map);
  }

 private:
  [[noreturn]] void fail(const Object& at, const std::string& why) const {
    throw Error("{}: tensor '{}' (pickle byte {}): {}", where_, *name_, at.offset, why);
  }
  const Object& want(const Object& o, Kind k, const char* role) const {
    if (!o.is(k))
      fail(o, fmt::format("{} is a {}, expected a {}", role, pickle::kind_name(o.kind), pickle::kind_name(k)));
    return o;
  }
  int64_t want_int(const Object& o, const char* role, int64_t max) const {
    want(o, Kind::Int, role);
    if (o.integer < 0 || o.integer > max) fail(o, fmt::format("{} {} is out of range [0, {}]", role, o.integer, max));
    return o.integer;
  }
  Shape want_ints(const Object& o, const char* role) const {
    want(o, Kind::Tuple, role);
    if (o.items.size() > kMaxDims)
      fail(o, fmt::format("{} has {} dimensions (at most {})", role, o.items.size(), kMaxDims));
    Shape s;
    for (const Object* d : o.items) s.push_back(want_int(*d, role, kMaxDim));
    return s;
  }

  TensorRecord parse_tensor(const Object& value) const {
    const Object* v = &value;
    if (!v->is(Kind::Call)) fail(*v, fmt::format("the value is a {}, not a tensor", pickle::kind_name(v->kind)));
    // An nn.Parameter wraps the tensor: _rebuild_parameter(tensor, requires_grad, hooks[, state]).
    if (v->global == pickle::Global::RebuildParameter || v->global == pickle::Global::RebuildParameterWithState) {
      if (v->args->items.empty()) fail(*v, "_rebuild_parameter without arguments");
      v = v->args->items[0];
      if (!v->is(Kind::Call))
        fail(*v, fmt::format("the parameter's data is a {}, not a tensor", pickle::kind_name(v->kind)));
    }
    if (v->global != pickle::Global::RebuildTensorV2) fail(*v, fmt::format("{} does not build a tensor", v->text));
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    const auto& a = v->args->items;
    if (a.size() != 6 && a.size() != 7)
      fail(*v, fmt::format("_rebuild_tensor_v2 has {} arguments, expected 6 or 7", a.size()));
    const Object& pid = want(*a[0], Kind::PersistentId, "the storage");
    TensorRecord rec{pid.items.at(0), 0, {}, {}};
    rec.offset = want_int(*a[1], "the storage offset", INT64_MAX / 8);
    rec.size = want_ints(*a[2], "the size");
    rec.stride = want_ints(*a[3], "the stride");
    if (rec.size.size() != rec.stride.size())
      fail(*a[3], fmt::format("size {} and stride {} differ in rank", shape_str(rec.size), shape_str(rec.stride)));
    want(*a[4], Kind::Bool, "requires_grad");
    want(*a[5], Kind::Dict, "backward_hooks");
    if (a.size() == 7) want(*a[6], Kind::Dict, "the tensor metadata");
    return rec;
  }

  // The persistent id is ('storage', torch.<T>Storage, key, location, numel); `key` names the
  // entry <stem>/data/<key>. Several tensors (views) may share one storage.
  const Storage& storage(const Object& id) {
    want(id, Kind::Tuple, "the storage id");
    const auto& t = id.items;
    if (t.size() != 5) fail(id, fmt::format("the storage id has {} fields, expected 5", t.size()));
    if (want(*t[0], Kind::String, "the storage id tag").text != "storage")
      fail(*t[0], fmt::format("the persistent id tag is '{}', expected 'storage'", t[0]->text));
    const Object& cls = want(*t[1], Kind::Global, "the storage type");
    if (cls.global != pickle::Global::StorageType) fail(cls, fmt::format("{} is not a storage type", cls.text));
    const std::string& key = want(*t[2], Kind::String, "the storage key").text;
    want(*t[3], Kind::String, "the storage location");
    const int64_t numel = want_int(*t[4], "the storage size", INT64_MAX / 8);

    const DType* dtype = nullptr;
    for (const auto& [name, t] : kStorageDTypes)
      if (cls.text == name) dtype = &t;
    if (!dtype)
      fail(cls, fmt::format("its storage is {}; supported are float32, float16 and bfloat16 "
                            "(torch.FloatStorage, torch.HalfStorage, torch.BFloat16Storage)",
                            cls.text));

    if (auto it = storages_.find(key); it != storages_.end()) {
      if (it->second.class_name != cls.text || it->second.numel != numel)
        fail(id, fmt::format("storage '{}' was first seen as {} of {} elements, now as {} of {}", key,
                             it->second.class_name, it->second.numel, cls.text, numel));
      return it->second;
    }
    const std::string entry_name = stem_ + "/data/" + key;
    const ZipEntry* entry = zip_.find(entry_name);
    if (!entry) fail(id, fmt::format("its storage entry '{}' is missing from the archive", entry_name));
    const auto bytes = zip_.data(*entry);
    const uint64_t el = static_cast<uint64_t>(dtype_block_bytes(*dtype));
    if (bytes.size() % el != 0 || bytes.size() / el != static_cast<uint64_t>(numel))
      fail(id, fmt::format("storage '{}' should hold {} {} elements but its entry has {} bytes", entry_name, numel,
                           dtype_name(*dtype), bytes.size()));
    return storages_.emplace(key, Storage{cls.text, *dtype, numel, bytes}).first->second;
  }

  void add(const TensorRecord& r, const Storage& st, TensorMap& map) const {
    const size_t el = static_cast<size_t>(dtype_block_bytes(st.dtype));
    const Object& at = *r.storage_id;
    int64_t numel = 1;
    for (int64_t d : r.size)
      if (__builtin_mul_overflow(numel, d, &numel) || numel > INT64_MAX / 8)
        fail(at, fmt::format("size {} is too large", shape_str(r.size)));
    if (numel == 0) {
      map.add(TensorView{*name_, st.dtype, r.size, {}});
      return;
    }
    // The last element reached must lie inside the storage; overflow-checked, since every
    // number here comes from the file.
    int64_t last = r.offset;
    bool contiguous = true;
    int64_t expect_stride = 1;
    for (size_t i = r.size.size(); i-- > 0;) {
      int64_t reach;
      if (__builtin_mul_overflow(r.size[i] - 1, r.stride[i], &reach) || __builtin_add_overflow(last, reach, &last))
        fail(at, fmt::format("size {} with stride {} overflows", shape_str(r.size), shape_str(r.stride)));
      if (r.size[i] != 1 && r.stride[i] != expect_stride) contiguous = false;  // size-1 dims: any stride
      expect_stride *= r.size[i];
    }
    if (last >= st.numel)
      fail(at, fmt::format("size {}, stride {} and offset {} reach element {} of a storage of {}", shape_str(r.size),
                           shape_str(r.stride), r.offset, last, st.numel));
    // Only views that overlap themselves (stride 0, broadcasts) have more elements than their
    // storage; state dicts do not hold them, and copying one could take unbounded memory.
    if (numel > st.numel)
      fail(at, fmt::format("size {} with stride {} repeats elements: {} elements from a storage of {}; "
                           "broadcast views are not supported",
                           shape_str(r.size), shape_str(r.stride), numel, st.numel));

    const std::byte* base = st.bytes.data();
    if (contiguous) {
      const auto bytes = st.bytes.subspan(static_cast<size_t>(r.offset) * el, static_cast<size_t>(numel) * el);
      if (reinterpret_cast<uintptr_t>(bytes.data()) % el == 0) {
        map.add(TensorView{*name_, st.dtype, r.size, bytes});  // zero-copy
      } else {
        map.add_owned(*name_, st.dtype, r.size, std::vector<std::byte>(bytes.begin(), bytes.end()));
      }
      return;
    }
    // A strided view: gather it row by row (innermost dimension) into a contiguous copy.
    std::vector<std::byte> out(static_cast<size_t>(numel) * el);
    const size_t nd = r.size.size();
    const int64_t inner = r.size[nd - 1], inner_stride = r.stride[nd - 1];
    std::vector<int64_t> idx(nd, 0);
    std::byte* dst = out.data();
    for (int64_t done = 0; done < numel; done += inner) {
      int64_t src = r.offset;
      for (size_t d = 0; d + 1 < nd; ++d) src += idx[d] * r.stride[d];
      for (int64_t j = 0; j < inner; ++j, dst += el)
        std::memcpy(dst, base + static_cast<size_t>(src + j * inner_stride) * el, el);
      for (size_t d = nd - 1; d-- > 0;) {  // odometer over the outer dimensions
        if (++idx[d] < r.size[d]) break;
        idx[d] = 0;
      }
    }
    map.add_owned(*name_, st.dtype, r.size, std::move(out));
  }

  const ZipArchive& zip_;
  std::string stem_, where_;
  const std::string* name_ = nullptr;
  std::map<std::string, Storage> storages_;
};

// torch names every entry <stem>/...; data.pkl sits directly under the one top-level folder.
std::string find_stem(const ZipArchive& zip) {
  std::vector<std::string> stems;
  bool torchscript = false;
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash == std::string::npos || slash == 0) continue;
    const std::string_view rest = std::string_view(e.name).substr(slash + 1);
    if (rest == "data.pkl") stems.push_back(e.name.substr(0, slash));
    if (rest == "constants.pkl") torchscript = true;
  }
  if (stems.size() == 1) return stems[0];
  if (stems.size() > 1)
    throw Error("{}: the archive holds several data.pkl ('{}/data.pkl' and '{}/data.pkl'); expected one", zip.path(),
                stems[0], stems[1]);
  if (torchscript)
    throw Error("{}: this is a TorchScript archive (torch.jit.save), not a torch.save state dict", zip.path());
  throw Error("{}: zip archive without <folder>/data.pkl; not a torch.save checkpoint", zip.path());
}

// torch >= 2.0 records the writer's byte order; storages are raw native-endian bytes.
void check_byteorder(const ZipArchive& zip, const std::string& stem) {
  const ZipEntry* e = zip.find(stem + "/byteorder");
  if (!e) return;  // torch 1.x: always little-endian in practice
  const auto b = zip.data(*e);
  const std::string_view order(reinterpret_cast<const char*>(b.data()), b.size());
  if (order == "little") return;
  if (order == "big")
    throw Error("{}: the checkpoint was saved on a big-endian machine; re-save it on a little-endian one", zip.path());
  throw Error("{}: '{}' holds an unknown byte order", zip.path(), e->name);
}

}  // namespace

TensorMap read_pth(std::shared_ptr<const MappedFile> file) {
  const std::string& path = file->path();
  if (is_legacy_torch_file(*file))
    throw Error(
        "{}: a legacy torch.save file (torch < 1.6, not a zip); load it in Python and re-save it with a "
        "current torch.save, or convert it to safetensors",
        path);
  ZipArchive zip(file);
  const std::string stem = find_stem(zip);
  check_byteorder(zip, stem);
  const ZipEntry& pkl = *zip.find(stem + "/data.pkl");
  const auto pkl_bytes = zip.data(pkl);
  if (pkl_bytes.size() > kMaxPickleBytes)
    throw Error("{}: '{}' is {} bytes; a state dict's pickle is far smaller (limit {})", path, pkl.name,
                pkl_bytes.size(), kMaxPickleBytes);
  const std::string where = path + ": " + pkl.name;
  const pickle::Unpickled tree = pickle::unpickle(pkl_bytes, where);
  const Object& root = tree.root();
  if (!root.is(Kind::Dict))
    throw Error("{}: holds a {}, expected a dict of tensors (a state dict)", where, pickle::kind_name(root.kind));

  TensorMap map(path);
  TensorReader reader(zip, stem, where);
  for (const auto& [key, value] : root.entries) {
    if (!key->is(Kind::String))
      throw Error("{}: a state dict key (pickle byte {}) is a {}, expected a str", where, key->offset,
                  pickle::kind_name(key->kind));
    reader.read(key->text, *value, map);
  }
  attach_file(map, file);
  return map;
}

}  // namespace rwkv
