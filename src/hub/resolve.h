// --which NAME -> local files: what the text-generation command calls to get a model.
//
//   rwkv::hub::WhichOverrides ov;            // from --model-id --revision --weight-files ...
//   auto m = rwkv::hub::resolve_which("rwkv7-g1d-0.1b", /*quantized=*/false, ov,
//                                     rwkv::hub::HubOptions::from_env());
//   // m.weights (one or more files), m.tokenizer, m.config (v5/v6), m.arch ("rwkv7", ...)
//
// The overrides follow the seed (candle's rwkv example):
//   model_id / revision  replace the repo and revision of the weights and the config file. A
//                        model_id that is one of the entry's `alternatives` (e.g.
//                        DanielClough/rwkv7-g1-safetensors) also takes that source's file names.
//                        --quantized files in another repo (lmz/candle-rwkv) are not affected.
//   weight_files         local files used instead of downloading weights (comma-split by the CLI)
//   tokenizer            a local vocab file used instead of downloading one
//   config_file          a local config file used instead of the registry's
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hub/hub.h"
#include "hub/registry.h"

namespace rwkv::hub {

struct WhichOverrides {
  std::optional<std::string> model_id;
  std::optional<std::string> revision;
  std::vector<std::string> weight_files;
  std::optional<std::string> tokenizer;
  std::optional<std::string> config_file;
};

// What resolve_which will use, decided without touching the network or the cache.
struct ModelPlan {
  const RegistryEntry* entry = nullptr;
  std::vector<HubFile> weights;                 // empty when local weight files are given
  std::vector<std::filesystem::path> local_weights;
  std::optional<HubFile> config;                // from the hub (v5/v6 config.json)
  std::optional<std::filesystem::path> local_config;
  std::vector<HubFile> tokenizer;               // candidates, best first; empty with a local one
  std::optional<std::filesystem::path> local_tokenizer;
};

// Throws UsageError for an unknown name, --quantized without a quantized variant, or a local
// override file that does not exist.
ModelPlan plan_which(const std::string& name, bool quantized, const WhichOverrides& overrides);

struct ResolvedModel {
  std::string name;
  std::string arch;                             // rwkv5 | rwkv6 | rwkv7 | rwkv7a | rwkv7b
  std::vector<std::filesystem::path> weights;   // local paths, in order
  std::filesystem::path tokenizer;              // .txt (preferred) or .json vocab
  std::optional<std::filesystem::path> config;  // set for v5/v6 (config.json) or --config-file
};

// Downloads (or finds in the cache) everything the plan names; see hub_download for the errors.
// Tokenizer candidates are tried in order: a cached one is used at once, a refusal by the hub
// (404, 401, 403) moves on to the next (the lossy JSON vocab is only the fallback for the .txt).
ResolvedModel resolve_which(const std::string& name, bool quantized, const WhichOverrides& overrides,
                            const HubOptions& opt);

// Files of the plan that are in the cache / all of them (for `rwkv models`). No network.
struct CacheStatus {
  int cached = 0;
  int total = 0;
  uint64_t cached_bytes = 0;  // sizes of the cached files
};
CacheStatus cache_status(const ModelPlan& plan, const HubOptions& opt);

}  // namespace rwkv::hub
