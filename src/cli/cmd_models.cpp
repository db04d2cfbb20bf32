// `rwkv models`: the --which names of the registry, their sizes and whether they are cached.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "hub/hub.h"
#include "hub/registry.h"
#include "hub/resolve.h"

namespace rwkv::cli {
namespace {

using hub::CacheStatus;
using hub::HubFile;
using hub::ModelPlan;

std::string sources(const ModelPlan& plan) {
  std::string out;
  std::string last_repo;
  auto add = [&](const HubFile& f) {
    const std::string repo = f.repo + "@" + f.revision;
    if (repo != last_repo) out += (out.empty() ? "" : "; ") + repo + ": " + f.path;
    else out += ", " + f.path;
    last_repo = repo;
  };
  for (const auto& f : plan.weights) add(f);
  if (plan.config) add(*plan.config);
  return out;
}

// Approximate sizes in decimal units, as the hub's file listings show them.
std::string approx_size(uint64_t bytes) {
  if (bytes == 0) return "?";
  const double b = static_cast<double>(bytes);
  return b >= 1e9 ? fmt::format("~{:.1f} GB", b / 1e9) : fmt::format("~{:.0f} MB", b / 1e6);
}

std::string cached_text(const CacheStatus& s) {
  const char* word = s.cached == s.total ? "yes" : s.cached == 0 ? "no" : "partly";
  return fmt::format("{} ({}/{})", word, s.cached, s.total);
}

nlohmann::json files_json(const std::vector<HubFile>& files, const hub::HubOptions& opt) {
  auto arr = nlohmann::json::array();
  for (const auto& f : files) {
    const auto p = hub::cached_path(f, opt);
    arr.push_back({{"repo", f.repo}, {"revision", f.revision}, {"file", f.path}, {"cached", p.has_value()},
                   {"path", p ? p->string() : ""}});
  }
  return arr;
}

nlohmann::json variant_json(const ModelPlan& plan, uint64_t approx, const hub::HubOptions& opt) {
  const CacheStatus s = hub::cache_status(plan, opt);
  return {{"approx_bytes", approx},
          {"weights", files_json(plan.weights, opt)},
          {"config", files_json(plan.config ? std::vector<HubFile>{*plan.config} : std::vector<HubFile>{}, opt)},
          {"tokenizer", files_json(plan.tokenizer, opt)},
          {"cached_files", s.cached},
          {"total_files", s.total},
          {"complete", s.cached == s.total}};
}

}  // namespace

int cmd_models(int argc, char** argv) {
  CLI::App app{"List the models --which knows: their files on the Hugging Face hub, sizes and whether they are "
               "in the cache (no network is used).",
               "rwkv models"};
  bool json = false;
  app.add_flag("--json", json, "print JSON (every file, its cache path) instead of a table");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  const auto opt = hub::HubOptions::from_env();
  if (json) {
    auto models = nlohmann::json::array();
    for (const auto& e : hub::list_registry()) {
      nlohmann::json m = {{"name", e.name}, {"arch", e.arch}, {"description", e.description}};
      m.update(variant_json(hub::plan_which(e.name, false, {}), e.weights.approx_bytes, opt));
      if (e.quantized) m["quantized"] = variant_json(hub::plan_which(e.name, true, {}), e.quantized->approx_bytes, opt);
      models.push_back(std::move(m));
    }
    const nlohmann::json doc = {{"cache_dir", opt.cache_dir.string()}, {"endpoint", opt.endpoint}, {"models", models}};
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }

  std::printf("%-17s %-7s %-12s %-11s %s\n", "NAME", "ARCH", "SIZE", "CACHED", "FILES (repo@revision: files)");
  auto row = [&](const std::string& name, const std::string& arch, uint64_t approx, const ModelPlan& plan) {
    const CacheStatus s = hub::cache_status(plan, opt);
    const std::string size = approx_size(approx);
    std::printf("%-17s %-7s %-12s %-11s %s\n", name.c_str(), arch.c_str(), size.c_str(), cached_text(s).c_str(),
                sources(plan).c_str());
  };
  for (const auto& e : hub::list_registry()) {
    row(e.name, e.arch, e.weights.approx_bytes, hub::plan_which(e.name, false, {}));
    if (e.quantized) row("  --quantized", "", e.quantized->approx_bytes, hub::plan_which(e.name, true, {}));
  }
  std::printf("\nCACHED counts the weights, config and vocab files. Cache: %s; hub: %s%s\n", opt.cache_dir.string().c_str(),
              opt.endpoint.c_str(), opt.offline ? " (HF_HUB_OFFLINE: cache only)" : "");
  return 0;
}

}  // namespace rwkv::cli
