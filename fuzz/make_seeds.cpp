// Writes seed corpora for the fuzzers from the fixtures, at run time (so no binary corpus is
// committed): each fixture's real torch-written data.pkl for the unpickler, and small .pth
// (plain and ZIP64) and .safetensors files holding a fixture's smallest tensors, small enough
// for the fuzzers to mutate quickly. Also one hand-built .pth with a strided view and a shared
// storage, so the gather path is in the corpus.
// Usage: fuzz_make_seeds FIXTURES_DIR OUT_DIR  (writes OUT_DIR/{pickle,pth,safetensors}/)
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "io/atomic_file.h"
#include "io/pickle_writer.h"
#include "io/readers.h"
#include "io/writers.h"
#include "io/zip.h"
#include "io/zip_writer.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace rwkv;

namespace {

void write_bytes(const fs::path& p, std::span<const std::byte> b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) throw Error("{}: cannot write", p.string());
}

// The data.pkl of a .pth file.
void extract_pickle(const fs::path& pth, const fs::path& out) {
  ZipArchive zip(MappedFile::open(pth.string()));
  for (const ZipEntry& e : zip.entries())
    if (e.name.ends_with("/data.pkl")) return write_bytes(out, zip.data(e));
}

// The `n` smallest tensors of a map, as views into it.
TensorMap smallest(const TensorMap& m, size_t n) {
  std::vector<const TensorView*> all;
  for (const auto& name : m.names()) all.push_back(&m.get(name));
  std::stable_sort(all.begin(), all.end(),
                   [](const TensorView* a, const TensorView* b) { return a->bytes.size() < b->bytes.size(); });
  TensorMap out("seed");
  for (size_t i = 0; i < std::min(n, all.size()); ++i) out.add(*all[i]);
  return out;
}

// {'t': a (3,2) transposed view of storage 0, 'v': a (2,) view at offset 2 of the same storage}
void write_strided_seed(const fs::path& out) {
  PickleWriter p;
  p.empty_dict();
  p.mark();
  p.string("t");
  p.tensor("FloatStorage", "0", 6, 0, {3, 2}, {1, 3});
  p.string("v");
  p.tensor("FloatStorage", "0", 6, 2, {2}, {1});
  p.setitems();
  p.stop();
  const float values[6] = {0, 1, 2, 3, 4, 5};
  AtomicFileWriter file(out.string());
  ZipWriter zip(file);
  zip.add_entry("archive/data.pkl", p.bytes());
  zip.add_entry("archive/byteorder", std::string_view("little"));
  zip.add_entry("archive/data/0", std::as_bytes(std::span<const float>(values)));
  zip.add_entry("archive/version", std::string_view("3\n"));
  zip.finish();
  file.commit();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FIXTURES_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path fixtures = argv[1], out = argv[2];
  try {
    for (const char* sub : {"pickle", "pth", "safetensors"}) fs::create_directories(out / sub);
    write_strided_seed(out / "pth" / "strided.pth");
    extract_pickle(out / "pth" / "strided.pth", out / "pickle" / "strided.pkl");
    int n = 0;
    if (fs::is_directory(fixtures)) {
      std::vector<fs::path> files;
      for (const auto& dir : fs::directory_iterator(fixtures))
        for (const char* name : {"model-f32.pth", "model-bf16.pth"})
          if (fs::exists(dir.path() / name)) files.push_back(dir.path() / name);
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) {
        const std::string stem = f.parent_path().filename().string() + "-" + f.stem().string();
        extract_pickle(f, out / "pickle" / (stem + ".pkl"));
        const TensorMap full = read_pth(MappedFile::open(f.string()));
        const TensorMap small = smallest(full, 4);  // views into `full`, which must outlive it
        write_pth((out / "pth" / (stem + ".pth")).string(), small);
        write_pth((out / "pth" / (stem + "-zip64.pth")).string(), small, {.archive_name = stem, .force_zip64 = true});
        extract_pickle(out / "pth" / (stem + ".pth"), out / "pickle" / (stem + "-small.pkl"));
        write_safetensors((out / "safetensors" / (stem + ".safetensors")).string(), small);
        ++n;
      }
    } else {
      std::fprintf(stderr, "fuzz_make_seeds: no fixtures at %s; only the hand-built seed\n", fixtures.c_str());
    }
    std::printf("seeds from %d fixture files in %s\n", n, out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
