// `rwkv [flags]`: text generation with the command line of the candle rwkv example it replaces
// (every flag of it, same names and defaults), plus a few of our own. Generated text streams to
// stdout; statistics and warnings go to stderr, so stdout stays clean for pipes.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "hub/resolve.h"
#include "rwkv/generation.h"
#include "rwkv/generator.h"
#include "rwkv/sampler.h"
#include "rwkv/tokenizer.h"
#include "util/error.h"

namespace rwkv::cli {

namespace {

namespace fs = std::filesystem;

struct Flags {
  std::string prompt, template_name = "raw", preset, which = "world1b5", model_id, revision, tokenizer,
      weight_files, config_file, dtype, arch;
  std::optional<std::string> system, suffix;
  std::vector<std::string> stops;
  double temperature = 1.0, top_p = 0.5;
  int top_k = 0;
  uint64_t seed = 299792458;
  int64_t sample_len = 5000, chunk = ModelOptions{}.chunk_size;
  std::optional<float> repeat_penalty;
  int repeat_last_n = 64, threads = 0;
  float alpha_presence = 2.0f, alpha_frequency = 0.1f, alpha_decay = 0.99f;
  bool tracing = false, quantized = false, no_echo = false, exact = false, huge_pages = false;
  DeviceFlags device;
};

void add_flags(CLI::App& app, Flags& f) {
  app.add_option("--prompt", f.prompt, "the prompt text (UTF-8)")->required();
  app.add_option("--template", f.template_name, "prompt template: raw, chat, think, fake-think, fim")
      ->capture_default_str();
  app.add_option("--system", f.system, "system prompt (chat, think, fake-think)");
  app.add_option("--suffix", f.suffix, "the text after the gap (fim)");
  app.add_option("--preset", f.preset, "sampling preset: chat (temp 1.0, top-p 0.5, presence 2.0, frequency 0.1, "
                                       "decay 0.99) or creative (temp 0.6, top-p 0.7, presence 2.0, frequency 0.2, "
                                       "decay 0.99); overrides those flags");
  app.add_option("--temperature", f.temperature, "sampling temperature (0 = greedy)")->capture_default_str();
  app.add_option("--top-p", f.top_p, "nucleus sampling: keep the most likely tokens up to this probability, in (0, 1]")
      ->capture_default_str();
  app.add_option("--top-k", f.top_k, "keep only the k most likely tokens (0 = off)")->capture_default_str();
  app.add_option("--seed", f.seed, "random seed: the same seed, prompt and flags give the same text")
      ->capture_default_str();
  app.add_option("-n,--sample-len", f.sample_len, "the most tokens to generate")->capture_default_str();
  app.add_option("--stop", f.stops, "stop when this text is produced (repeatable; not printed)");
  app.add_option("--which", f.which, "model name from the registry (`rwkv models` lists them)")->capture_default_str();
  app.add_option("--model-id", f.model_id, "Hugging Face repo to download from, instead of the registry's");
  app.add_option("--revision", f.revision, "revision (branch, tag, commit or refs/pr/N) of the repo");
  app.add_option("--tokenizer", f.tokenizer, "vocab file (rwkv_vocab_v20230424.txt, or the candle .json), or `bytes`");
  app.add_option("--weight-files", f.weight_files, "local model file(s), comma-separated (skips the download)");
  app.add_option("--config-file", f.config_file, "Hugging Face config.json (v5/v6 HF layout)");
  app.add_flag("--quantized", f.quantized, "use the registry's quantized files (GGUF) instead of its float ones");
  app.add_option("--dtype", f.dtype, "weight dtype at run time: f32, f16, bf16, or quantized at load: q8_0, q6_k, q5_1, q5_0, q5_k, q4_1, q4_0, q4_k (default: as stored in the file)");
  app.add_option("--repeat-penalty", f.repeat_penalty,
                 "divide the logits of tokens seen in the last --repeat-last-n by this (1 = off; default 1.1 for "
                 "RWKV-5/6 as in the seed, 1 for RWKV-7)");
  app.add_option("--repeat-last-n", f.repeat_last_n, "the window of --repeat-penalty")->capture_default_str();
  app.add_option("--alpha-presence", f.alpha_presence, "RWKV presence penalty: subtracted once a token occurred")
      ->capture_default_str();
  app.add_option("--alpha-frequency", f.alpha_frequency, "RWKV frequency penalty: subtracted per (decayed) occurrence")
      ->capture_default_str();
  app.add_option("--alpha-decay", f.alpha_decay, "decay of the occurrence counts per token")->capture_default_str();
  add_device_flags(app, f.device);
  app.add_flag("--tracing", f.tracing, "write a Chrome trace (trace-<time>.json) of the model calls");
  app.add_option("--threads", f.threads, "CPU threads (0 = one per physical core)")->capture_default_str();
  app.add_option("--arch", f.arch, "override the detected architecture: rwkv5, rwkv6, rwkv7, rwkv7a, rwkv7b");
  app.add_option("--chunk-size", f.chunk, "prompt tokens per sequence-path chunk")->capture_default_str();
  app.add_flag("--exact", f.exact,
               "f32 activations in every matrix product (by default: bf16 in the prompt's products with bf16 "
               "weights where the CPU has AVX512_BF16, 8-bit in decode with quantized weights (AVX2 or "
               "AVX512_VNNI); logits move by ~0.01-0.1)");
  app.add_flag("--no-echo", f.no_echo, "print only the generated text, not the prompt first");
  app.add_flag("--huge-pages", f.huge_pages, "copy the weights onto 2 MiB pages at load (faster decode of big models)");
}

void require_file(const std::string& path, const char* flag) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw UsageError("{}: no such file: {}", flag, path);
}

// --tokenizer, or a vocab next to the weights, or the vocab inside a GGUF model, or bytes for a
// byte-level (vocab 256) model, or the --which entry's vocab from the hub.
std::unique_ptr<Tokenizer> find_tokenizer(const Flags& f, const std::vector<std::string>& weights, int64_t vocab) {
  if (!f.tokenizer.empty()) {
    if (f.tokenizer != "bytes") require_file(f.tokenizer, "--tokenizer");
    return load_tokenizer(f.tokenizer);
  }
  const fs::path dir = fs::path(weights.front()).parent_path();
  for (const char* name : {"rwkv_vocab_v20230424.txt", "rwkv_vocab_v20230424.json"}) {
    std::error_code ec;
    if (fs::is_regular_file(dir / name, ec)) {
      fmt::print(stderr, "rwkv: using the tokenizer {}\n", (dir / name).string());
      return load_tokenizer(dir / name);
    }
  }
  // A byte-level GGUF (vocab 256) stores its bytes as a vocab too: the byte tokenizer below is it.
  if (vocab != 256) {
    if (auto embedded = tokenizer_in_model_file(weights.front())) {
      fmt::print(stderr, "rwkv: using the tokenizer stored in {}\n", weights.front());
      return embedded;
    }
  }
  if (vocab == 256) {
    fmt::print(stderr, "rwkv: vocabulary of 256: using the byte-level tokenizer\n");
    return make_byte_tokenizer();
  }
  // As the seed does: the World vocab of the --which entry, from the hub (or its cache).
  try {
    hub::WhichOverrides ov;
    ov.weight_files = weights;
    const auto resolved = hub::resolve_which(f.which, false, ov, hub::HubOptions::from_env());
    return load_tokenizer(resolved.tokenizer);
  } catch (const Error& e) {
    throw UsageError("no tokenizer: pass --tokenizer rwkv_vocab_v20230424.txt (the RWKV World vocab) or put it next "
                     "to {} (fetching it from the hub failed: {})",
                     weights.front(), e.what());
  }
}

// Chrome trace events (chrome://tracing, Perfetto), written when --tracing is on.
class ChromeTrace {
 public:
  void add(std::string_view name, double start_us, double end_us) {
    events_.push_back({{"name", name}, {"ph", "X"}, {"ts", start_us}, {"dur", end_us - start_us}, {"pid", 1}, {"tid", 1}});
  }
  void write() {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::string path = fmt::format("trace-{}.json", now);
    const std::string text = events_.dump();
    write_file_atomic(path, std::as_bytes(std::span<const char>(text.data(), text.size())));
    fmt::print(stderr, "rwkv: trace written to {}\n", path);
  }

 private:
  nlohmann::json events_ = nlohmann::json::array();
};

}  // namespace

int cmd_generate(int argc, char** argv) {
  CLI::App app("rwkv: run RWKV language models (v5, v6, v7, v7a, v7b). Generates text from --prompt.", "rwkv");
  Flags f;
  add_flags(app, f);
  app.footer("subcommands: logits, bench, quantize, make-model, tokenize, detokenize, models (rwkv <subcommand> --help)");
  if (auto rc = parse_args(app, argc, argv)) return *rc;

  // Validate everything before loading anything.
  const PromptTemplate tmpl = parse_prompt_template(f.template_name);
  SamplerConfig sc;
  sc.temperature = f.temperature;
  sc.top_p = f.top_p;
  sc.top_k = f.top_k;
  sc.seed = f.seed;
  sc.alpha_presence = f.alpha_presence;
  sc.alpha_frequency = f.alpha_frequency;
  sc.alpha_decay = f.alpha_decay;
  sc.repeat_last_n = f.repeat_last_n;
  if (!f.preset.empty()) apply_preset(sc, parse_sampler_preset(f.preset));
  if (f.sample_len < 0) throw UsageError("-n/--sample-len must be >= 0, got {}", f.sample_len);
  if (f.threads < 0) throw UsageError("--threads must be >= 0, got {}", f.threads);
  const std::string prompt_text = apply_template(tmpl, {f.prompt, f.system, f.suffix});
  GenerationConfig gc;
  gc.max_tokens = f.sample_len;
  gc.stops = effective_stop_strings(tmpl, f.stops);
  ModelOptions mo;
  if (!f.dtype.empty()) mo.dtype = parse_dtype_flag(f.dtype);
  if (!f.arch.empty()) mo.arch = parse_arch_flag(f.arch);
  mo.threads = f.threads;
  mo.device = f.device.resolve();
  mo.chunk_size = f.chunk;
  mo.fast_activations = !f.exact;
  mo.huge_pages = f.huge_pages;
  mo.config_file = f.config_file;
  {  // the sampler's and the stop strings' own checks, before any loading
    SamplerConfig probe = sc;
    probe.repeat_penalty = f.repeat_penalty.value_or(1.0f);
    probe.validate();
    StopMatcher check(gc.stops);
  }

  std::vector<std::string> weights = split_files({f.weight_files});
  if (f.quantized && !weights.empty())
    throw UsageError("--quantized picks the registry's quantized files; with --weight-files, pass a quantized file "
                     "(GGUF, rwkv.cpp Q4/Q5/Q8) or quantize at load with --dtype q8_0|q4_0|...");
  for (const auto& w : weights) require_file(w, "--weight-files");
  if (!f.config_file.empty()) require_file(f.config_file, "--config-file");
  if (weights.empty()) {
    // --which: the registry's files from the Hugging Face hub (or its local cache).
    hub::WhichOverrides ov;
    if (!f.model_id.empty()) ov.model_id = f.model_id;
    if (!f.revision.empty()) ov.revision = f.revision;
    if (!f.tokenizer.empty()) ov.tokenizer = f.tokenizer;
    if (!f.config_file.empty()) ov.config_file = f.config_file;
    const auto resolved = hub::resolve_which(f.which, f.quantized, ov, hub::HubOptions::from_env());
    for (const auto& p : resolved.weights) weights.push_back(p.string());
    if (f.tokenizer.empty()) f.tokenizer = resolved.tokenizer.string();
    if (resolved.config && mo.config_file.empty()) mo.config_file = resolved.config->string();
  }

  auto model = Model::load(weights, mo);
  const HParams& hp = model->hparams();
  auto tokenizer = find_tokenizer(f, weights, hp.vocab);
  if (!tokenizer->load_warning().empty()) fmt::print(stderr, "rwkv: warning: {}\n", tokenizer->load_warning());
  // The seed's v5/v6 path divides repeated tokens' logits by 1.1 by default; its v7 path does not.
  const bool v56 = hp.arch == Arch::Rwkv5 || hp.arch == Arch::Rwkv6;
  gc.sampler = sc;
  gc.sampler.repeat_penalty = f.repeat_penalty.value_or(v56 ? 1.1f : 1.0f);
  gc.sampler.validate();

  // The seed trims the prompt's trailing whitespace: a trailing space would be tokenized on its
  // own, which World models rarely saw and answer badly.
  const std::string prompt(trim_trailing_whitespace(prompt_text));
  fmt::print(stderr, "rwkv: {}\n", model->describe());
  if (!f.no_echo) {
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    std::fflush(stdout);
  }
  ChromeTrace trace;
  TraceHook hook;
  if (f.tracing) hook = [&](std::string_view n, double a, double b) { trace.add(n, a, b); };
  const auto stats = generate(*model, *tokenizer, prompt, gc,
                              [](std::string_view text) {
                                std::fwrite(text.data(), 1, text.size(), stdout);
                                std::fflush(stdout);
                              },
                              hook);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  fmt::print(stderr, "[prompt: {} tokens in {:.2f} s, {:.1f} tok/s]\n", stats.prompt_tokens, stats.prompt_seconds,
             stats.prompt_tokens / std::max(stats.prompt_seconds, 1e-9));
  fmt::print(stderr, "[generated: {} tokens in {:.2f} s, {:.1f} tok/s; ended by {}]\n", stats.generated_tokens,
             stats.generate_seconds, stats.generated_tokens / std::max(stats.generate_seconds, 1e-9),
             stats.reason == StopReason::EndOfDocument ? "end of document"
             : stats.reason == StopReason::StopString  ? "stop string"
                                                       : "length limit");
  if (f.tracing) trace.write();
  return 0;
}

}  // namespace rwkv::cli
