#include "hub/resolve.h"

#include <cstdio>

#include "hub/cache.h"
#include "hub/messages.h"
#include "util/error.h"

namespace rwkv::hub {
namespace {

std::filesystem::path existing_file(const std::string& path, const char* flag) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw UsageError("{}: file not found: {}", flag, path);
  return path;
}

}  // namespace

ModelPlan plan_which(const std::string& name, bool quantized, const WhichOverrides& ov) {
  const RegistryEntry& e = find_model(name);
  ModelPlan plan;
  plan.entry = &e;

  // The model's own repo, after --model-id/--revision: the weights and config.json come from it.
  WeightSource model = e.weights;
  if (ov.model_id) {
    model.repo = *ov.model_id;
    for (const auto& alt : e.alternatives)
      if (alt.repo == *ov.model_id) model = alt;
  }
  if (ov.revision) model.revision = *ov.revision;

  WeightSource source = model;
  if (quantized) {
    if (!e.quantized)
      throw UsageError("--quantized: the registry has no quantized files for {}; quantize at load with --dtype "
                       "q8_0 (or q4_0, q4_k, ...), or write a file with `rwkv quantize` and pass it with --weight-files",
                       e.name);
    source = *e.quantized;
    if (source.repo == e.weights.repo) source.repo = model.repo, source.revision = model.revision;
  }

  if (!ov.weight_files.empty()) {
    for (const auto& w : ov.weight_files) plan.local_weights.push_back(existing_file(w, "--weight-files"));
  } else {
    for (const auto& f : source.files) plan.weights.push_back({source.repo, source.revision, f});
  }
  if (ov.config_file)
    plan.local_config = existing_file(*ov.config_file, "--config-file");
  else if (!e.config_file.empty())
    plan.config = HubFile{model.repo, model.revision, e.config_file};
  if (ov.tokenizer)
    plan.local_tokenizer = existing_file(*ov.tokenizer, "--tokenizer");
  else
    for (const auto& t : e.tokenizer) plan.tokenizer.push_back({t.repo, t.revision, t.file});

  // A bad --model-id or --revision is a usage error, reported before anything is fetched.
  try {
    for (const auto& f : plan.weights) validate_hub_file(f);
    if (plan.config) validate_hub_file(*plan.config);
  } catch (const Error& err) {
    throw UsageError("--model-id/--revision: {}", err.what());
  }
  return plan;
}

ResolvedModel resolve_which(const std::string& name, bool quantized, const WhichOverrides& ov, const HubOptions& opt) {
  const ModelPlan plan = plan_which(name, quantized, ov);
  ResolvedModel r;
  r.name = plan.entry->name;
  r.arch = plan.entry->arch;
  r.weights = plan.local_weights;
  for (const auto& f : plan.weights) r.weights.push_back(hub_download(f, opt));
  r.config = plan.local_config;
  if (plan.config) r.config = hub_download(*plan.config, opt);

  if (plan.local_tokenizer) {
    r.tokenizer = *plan.local_tokenizer;
    return r;
  }
  // Any cached candidate wins at once (in order); otherwise download the first the hub has.
  for (const auto& t : plan.tokenizer)
    if (auto p = cached_path(t, opt)) {
      r.tokenizer = *p;
      return r;
    }
  if (opt.offline) throw Error("{}", offline_miss_message(plan.tokenizer.front(), opt));
  // The hub refusing one candidate (404, or 401/403 for a repo gone private) moves on to the
  // next; no answer at all (network) ends the search, as the next would fail the same way.
  std::optional<HubHttpError> first_refusal;
  for (const auto& t : plan.tokenizer) {
    try {
      r.tokenizer = hub_download(t, opt);
      if (first_refusal && opt.progress != ProgressStyle::None)
        std::fprintf(stderr, "note: %s\nnote: using %s instead\n", first_refusal->what(), describe(t).c_str());
      return r;
    } catch (const HubHttpError& e) {
      if (!first_refusal) first_refusal = e;
    }
  }
  throw *first_refusal;
}

CacheStatus cache_status(const ModelPlan& plan, const HubOptions& opt) {
  CacheStatus s;
  auto count = [&](const HubFile& f) {
    ++s.total;
    if (auto p = cached_path(f, opt)) {
      ++s.cached;
      std::error_code ec;
      const auto n = std::filesystem::file_size(*p, ec);
      if (!ec) s.cached_bytes += n;
    }
  };
  for (const auto& f : plan.weights) count(f);
  if (plan.config) count(*plan.config);
  if (!plan.tokenizer.empty()) {
    // One vocab is enough: count the tokenizer as cached when any candidate is.
    ++s.total;
    for (const auto& t : plan.tokenizer)
      if (auto p = cached_path(t, opt)) {
        ++s.cached;
        std::error_code ec;
        const auto n = std::filesystem::file_size(*p, ec);
        if (!ec) s.cached_bytes += n;
        break;
      }
  }
  return s;
}

}  // namespace rwkv::hub
