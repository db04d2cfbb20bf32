// Tokenizer throughput on bench-1mb.txt (999,950 bytes of mixed text; see the README of the
// tokenizer test data) and vocab load time. MB = 10^6 bytes, as in that README.
//   build/bench/tokenizer_bench            (data from $RWKV_TOKENIZER_DIR or ../shared/tokenizer)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "rwkv/tokenizer.h"
#include "tokenizer/utf8_stream.h"

namespace {

namespace fs = std::filesystem;

constexpr double kBytesPerMB = 1e6;

fs::path data_dir() {
  const char* env = std::getenv("RWKV_TOKENIZER_DIR");
  return env && *env ? fs::path(env) : fs::path(RWKV_DEFAULT_TOKENIZER_DIR);
}

std::string read_binary(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The .txt tokenizer and the benchmark text, loaded once.
struct Data {
  std::unique_ptr<rwkv::Tokenizer> tok;
  std::string text;
  std::vector<int32_t> ids;
};

const Data* data(benchmark::State& state) {
  static const std::unique_ptr<Data> d = []() -> std::unique_ptr<Data> {
    const fs::path vocab = data_dir() / "rwkv_vocab_v20230424.txt", text = data_dir() / "bench-1mb.txt";
    if (!fs::exists(vocab) || !fs::exists(text)) return nullptr;
    auto d = std::make_unique<Data>();
    d->tok = rwkv::load_tokenizer(vocab);
    d->text = read_binary(text);
    d->ids = d->tok->encode(d->text);
    return d;
  }();
  if (!d) state.SkipWithError("tokenizer data not found: set RWKV_TOKENIZER_DIR");
  return d.get();
}

void report_bytes(benchmark::State& state, size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["MB"] = benchmark::Counter(static_cast<double>(bytes) / kBytesPerMB,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_WorldEncode(benchmark::State& state) {
  const Data* d = data(state);
  if (!d) return;
  for (auto _ : state) benchmark::DoNotOptimize(d->tok->encode(d->text));
  report_bytes(state, d->text.size());
  state.counters["Mtok/s"] = benchmark::Counter(static_cast<double>(d->ids.size()) / 1e6,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_WorldEncode)->Unit(benchmark::kMillisecond);

void BM_WorldDecode(benchmark::State& state) {
  const Data* d = data(state);
  if (!d) return;
  for (auto _ : state) benchmark::DoNotOptimize(d->tok->decode(d->ids));
  report_bytes(state, d->text.size());
}
BENCHMARK(BM_WorldDecode)->Unit(benchmark::kMillisecond);

// Decoding as generation does: one token at a time through the streaming UTF-8 decoder.
void BM_WorldStreamDecode(benchmark::State& state) {
  const Data* d = data(state);
  if (!d) return;
  std::string out;
  for (auto _ : state) {
    out.clear();
    rwkv::Utf8StreamDecoder stream;
    for (const int32_t id : d->ids) stream.feed(d->tok->token_bytes(id), out);
    out += stream.finish();
    benchmark::DoNotOptimize(out.data());
  }
  report_bytes(state, d->text.size());
}
BENCHMARK(BM_WorldStreamDecode)->Unit(benchmark::kMillisecond);

void BM_LoadVocab(benchmark::State& state, const char* name) {
  const fs::path vocab = data_dir() / name;
  if (!fs::exists(vocab)) {
    state.SkipWithError("tokenizer data not found: set RWKV_TOKENIZER_DIR");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(rwkv::load_tokenizer(vocab));
}
BENCHMARK_CAPTURE(BM_LoadVocab, txt, "rwkv_vocab_v20230424.txt")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadVocab, json, "rwkv_vocab_v20230424.json")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
