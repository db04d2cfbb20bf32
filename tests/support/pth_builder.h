// Test helpers for the .pth tests: build archives from hand-made pickles and raw storages, and
// wrap byte strings as mapped files.
#pragma once

#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "io/pickle_writer.h"
#include "io/zip_writer.h"

namespace rwkv::test {

struct PthParts {
  std::string stem = "archive";
  std::string pickle;                                         // the whole data.pkl
  std::vector<std::pair<std::string, std::string>> storages;  // key -> raw bytes
  std::optional<std::string> byteorder = std::string("little");
  bool storages_first = false;  // write data/<key> before data.pkl
  uint64_t alignment = 64;
  bool force_zip64 = false;
};

inline void write_pth_parts(const std::filesystem::path& path, const PthParts& p) {
  AtomicFileWriter out(path.string());
  ZipWriter zip(out, p.force_zip64, p.alignment);
  auto storages = [&] {
    for (const auto& [key, bytes] : p.storages) zip.add_entry(p.stem + "/data/" + key, bytes);
  };
  if (p.storages_first) storages();
  zip.add_entry(p.stem + "/data.pkl", p.pickle);
  if (p.byteorder) zip.add_entry(p.stem + "/byteorder", *p.byteorder);
  if (!p.storages_first) storages();
  zip.add_entry(p.stem + "/version", std::string_view("3\n"));
  zip.finish();
  out.commit();
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

inline std::shared_ptr<const MappedFile> map_bytes(const std::string& bytes, const std::string& name = "mem.pth") {
  return MappedFile::from_bytes(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), name);
}

// A state dict pickle {name: tensor} from (name, storage class, key, storage numel, offset, size, stride).
struct PickledTensor {
  std::string name, storage_class, key;
  int64_t storage_numel, offset;
  std::vector<int64_t> size, stride;
};
inline std::string state_dict_pickle(const std::vector<PickledTensor>& tensors) {
  PickleWriter p;
  p.empty_dict();
  p.mark();
  for (const auto& t : tensors) {
    p.string(t.name);
    p.tensor(t.storage_class, t.key, t.storage_numel, t.offset, t.size, t.stride);
  }
  p.setitems();
  p.stop();
  return p.bytes();
}

}  // namespace rwkv::test
