// Writes seed corpora for the fuzzers from the fixtures, at run time (so no binary corpus is
// committed): each fixture's real torch-written data.pkl for the unpickler, and small .pth
// (plain and ZIP64) and .safetensors files holding a fixture's smallest tensors, small enough
// for the fuzzers to mutate quickly. Also one hand-built .pth with a strided view and a shared
// storage, so the gather path is in the corpus, and small GGUFs: every dtype we read, metadata of
// every type we write, and each fixture GGUF's header with its smallest tensors.
// Usage: fuzz_make_seeds FIXTURES_DIR OUT_DIR  (writes OUT_DIR/{pickle,pth,safetensors,gguf}/)
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/atomic_file.h"
#include "io/gguf_writer.h"
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

// Sources copying the given views.
std::vector<TensorSource> sources_of(const std::vector<const TensorView*>& views) {
  std::vector<TensorSource> out;
  for (const TensorView* v : views)
    out.push_back({v->name, v->dtype, v->shape, [v](std::span<std::byte> dst) {
                     std::copy(v->bytes.begin(), v->bytes.end(), dst.begin());
                   }});
  return out;
}

// One tiny tensor of every dtype we read (bytes of a ramp; any bytes are valid blocks), and
// metadata of every type we write.
void write_dtype_seed(const fs::path& out) {
  std::vector<TensorSource> sources;
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const int64_t n = dtype_block_size(d) == 1 ? 4 : dtype_block_size(d);
    sources.push_back({std::string("t.") + std::string(dtype_name(d)), d, {1, n}, [](std::span<std::byte> dst) {
                         for (size_t i = 0; i < dst.size(); ++i) dst[i] = static_cast<std::byte>(i * 37 % 251 & 0x3f);
                       }});
  }
  const GgufMetadata meta = {{"general.architecture", std::string("rwkv")}, {"k.i32", int32_t{-1}},
                             {"k.u64", uint64_t{7}},   {"k.f32", 1.5f},      {"k.bool", false},
                             {"k.strs", std::vector<std::string>{"a", "bc"}}, {"k.ints", std::vector<int32_t>{1, 2}}};
  write_gguf(out.string(), sources, meta, 64);
}

// A fixture GGUF's smallest tensors (their real names, dtypes and shapes), its architecture and
// the first 16 entries of its token list.
void write_gguf_seed(const fs::path& gguf, const fs::path& out) {
  const TensorMap full = read_gguf(MappedFile::open(gguf.string()));
  const TensorMap small = smallest(full, 4);
  std::vector<const TensorView*> views;
  for (const auto& name : small.names()) views.push_back(&small.get(name));
  GgufMetadata meta = {{"general.architecture", full.metadata().at("general.architecture")}};
  if (auto it = full.metadata().find("tokenizer.ggml.tokens"); it != full.metadata().end()) {
    auto tokens = nlohmann::json::parse(it->second).get<std::vector<std::string>>();
    tokens.resize(std::min<size_t>(tokens.size(), 16));
    meta.push_back({"tokenizer.ggml.tokens", tokens});
  }
  write_gguf(out.string(), sources_of(views), meta);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FIXTURES_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path fixtures = argv[1], out = argv[2];
  try {
    for (const char* sub : {"pickle", "pth", "safetensors", "gguf"}) fs::create_directories(out / sub);
    write_dtype_seed(out / "gguf" / "dtypes.gguf");
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
      if (fs::is_directory(fixtures / "gguf"))
        for (const auto& f : fs::directory_iterator(fixtures / "gguf"))
          if (f.path().extension() == ".gguf" && f.file_size() < (4u << 20))
            write_gguf_seed(f.path(), out / "gguf" / f.path().filename());
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
