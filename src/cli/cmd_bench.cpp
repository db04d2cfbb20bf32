// rwkv bench: load time, prompt (prefill) and decode speed, peak memory; optionally this
// machine's limits (read bandwidth, arithmetic peak), so every number comes with its ceiling.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/machine_probe.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace rwkv::cli {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

nlohmann::json probe_machine(int threads, bool huge_pages) {
  ThreadPool pool(threads > 0 ? threads : ThreadPool::physical_cores());
  const auto bw = cpu::probe_read_bandwidth(pool, size_t{1} << 30, huge_pages, 5);
  return {{"threads", pool.size()},
          {"isa", cpu::isa_name(cpu::active_isa())},
          {"read_gb_s", bw.gb_per_s},
          {"read_gb_s_min", bw.min},
          {"read_gb_s_max", bw.max},
          {"huge_pages", huge_pages},
          {"fma_f32_gflops", cpu::probe_fma_f32_gflops(pool)},
          {"dot_bf16_gflops", cpu::probe_dot_bf16_gflops(pool)}};
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  CLI::App app("Measure load time, prompt processing and decode speed (and optionally the machine's limits).", "bench");
  std::vector<std::string> weights;
  std::string dtype, arch;
  int64_t prompt_tokens = 512, gen_tokens = 128, chunk = ModelOptions{}.chunk_size;
  int threads = 0, repeat = 3;
  bool json = false, machine = false, huge_pages = false, exact = false;
  DeviceFlags device;
  app.add_option("--weights,--weight-files", weights, "model file(s)");
  app.add_option("--dtype", dtype, "weight dtype at run time: f32, f16, bf16, or quantized at load: q8_0, q6_k, q5_1, q5_0, q5_k, q4_1, q4_0, q4_k (default: as stored in the file)");
  app.add_option("--prompt-tokens", prompt_tokens, "prompt length for the prefill measurement")->capture_default_str();
  app.add_option("--gen-tokens", gen_tokens, "tokens decoded one at a time")->capture_default_str();
  app.add_option("--threads", threads, "threads (0 = one per physical core)")->capture_default_str();
  app.add_option("--repeat", repeat, "measured runs (the median is reported)")->capture_default_str();
  app.add_option("--chunk-size", chunk, "tokens per sequence-path chunk")->capture_default_str();
  app.add_option("--arch", arch, "override the detected architecture");
  app.add_flag("--exact", exact, "f32 activations in every matrix product (as `rwkv logits`); by default reduced "
                                  "precision where it pays, as in text generation");
  app.add_flag("--machine", machine, "also probe read bandwidth and arithmetic peaks");
  app.add_flag("--huge-pages", huge_pages,
               "weights copied onto 2 MiB pages at load (and the bandwidth probe on such pages)");
  app.add_flag("--json", json, "print one JSON object");
  add_device_flags(app, device);
  if (auto rc = parse_args(app, argc, argv)) return *rc;
  if (weights.empty() && !machine) throw UsageError("bench: give --weights FILE (and/or --machine)");
  if (prompt_tokens < 1 || gen_tokens < 0 || repeat < 1 || threads < 0)
    throw UsageError("bench: --prompt-tokens >= 1, --gen-tokens >= 0, --repeat >= 1, --threads >= 0");

  nlohmann::json out = nlohmann::json::object();
  if (!weights.empty()) {
    ModelOptions opt;
    if (!dtype.empty()) opt.dtype = parse_dtype_flag(dtype);
    if (!arch.empty()) opt.arch = parse_arch_flag(arch);
    opt.threads = threads;
    opt.device = device.resolve();
    opt.chunk_size = chunk;
    opt.fast_activations = !exact;
    opt.huge_pages = huge_pages;
    auto t0 = Clock::now();
    auto model = Model::load(split_files(weights), opt);
    const double load_s = seconds_since(t0);
    const auto& hp = model->hparams();

    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> tok(1, static_cast<int32_t>(hp.vocab - 1));
    std::vector<int32_t> prompt(static_cast<size_t>(prompt_tokens));
    for (auto& t : prompt) t = tok(rng);
    std::vector<float> logits(static_cast<size_t>(hp.vocab));
    auto argmax = [&] { return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()); };

    {  // warm-up: fault in the mapped weights, settle the clocks
      State s = model->new_state();
      model->forward(std::span<const int32_t>(prompt).first(std::min<size_t>(prompt.size(), 32)), s, Logits::Last,
                     logits.data());
      for (int i = 0; i < 4; ++i) model->step(argmax(), s, logits.data());
    }
    std::vector<double> prefill, decode;
    for (int r = 0; r < repeat; ++r) {
      State s = model->new_state();
      t0 = Clock::now();
      model->forward(prompt, s, Logits::Last, logits.data());
      prefill.push_back(static_cast<double>(prompt_tokens) / seconds_since(t0));
      if (gen_tokens > 0) {
        t0 = Clock::now();
        for (int64_t i = 0; i < gen_tokens; ++i) model->step(argmax(), s, logits.data());
        decode.push_back(static_cast<double>(gen_tokens) / seconds_since(t0));
      }
    }
    out["model"] = split_files(weights);
    out["arch"] = std::string(arch_name(hp.arch));
    out["describe"] = model->describe();
    out["device"] = opt.device;
    out["dtype"] = dtype.empty() ? "file" : dtype;
    out["n_layer"] = hp.n_layer;
    out["n_embd"] = hp.n_embd;
    out["load_s"] = load_s;
    out["prompt_tokens"] = prompt_tokens;
    out["gen_tokens"] = gen_tokens;
    out["prefill_tok_s"] = median(prefill);
    out["decode_tok_s"] = median(decode);
    out["prefill_runs"] = prefill;
    out["decode_runs"] = decode;
    out["decode_bytes_per_token"] = model->decode_bytes_per_token();
    out["peak_rss_mb"] = peak_rss_mb();
  }
  if (machine) {
    out["machine"] = probe_machine(threads, huge_pages);
    if (out.contains("decode_bytes_per_token")) {
      const double ceiling = out["machine"]["read_gb_s"].get<double>() * 1e9 /
                             out["decode_bytes_per_token"].get<double>();
      out["decode_ceiling_tok_s"] = ceiling;
      out["decode_pct_of_ceiling"] = 100.0 * out["decode_tok_s"].get<double>() / ceiling;
    }
  }
  if (json) {
    fmt::print("{}\n", out.dump());
    return 0;
  }
  if (out.contains("describe")) {
    fmt::print("model      {}\n", out["describe"].get<std::string>());
    fmt::print("device     {}\n", out["device"].get<std::string>());
    fmt::print("load       {:.3f} s\n", out["load_s"].get<double>());
    fmt::print("prefill    {:.1f} tok/s  ({} tokens, median of {})\n", out["prefill_tok_s"].get<double>(),
               prompt_tokens, repeat);
    fmt::print("decode     {:.1f} tok/s  ({} tokens, median of {})\n", out["decode_tok_s"].get<double>(), gen_tokens,
               repeat);
    fmt::print("weights    {:.1f} MB read per decoded token\n",
               out["decode_bytes_per_token"].get<double>() / 1e6);
    fmt::print("peak RSS   {:.0f} MB\n", out["peak_rss_mb"].get<double>());
  }
  if (machine) {
    const auto& m = out["machine"];
    fmt::print("machine    read {:.1f} GB/s (min {:.1f}, max {:.1f}; {} pages), f32 FMA {:.0f} GFLOP/s, bf16 dot {:.0f} GFLOP/s, {} threads\n",
               m["read_gb_s"].get<double>(), m["read_gb_s_min"].get<double>(), m["read_gb_s_max"].get<double>(),
               huge_pages ? "2 MiB" : "4 KiB", m["fma_f32_gflops"].get<double>(), m["dot_bf16_gflops"].get<double>(),
               m["threads"].get<int>());
    if (out.contains("decode_ceiling_tok_s"))
      fmt::print("ceiling    {:.1f} tok/s decode at that bandwidth: {:.0f}% reached\n",
                 out["decode_ceiling_tok_s"].get<double>(), out["decode_pct_of_ceiling"].get<double>());
  }
  return 0;
}

}  // namespace rwkv::cli
