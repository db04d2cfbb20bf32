// The model registry: every --which name, with the hub files it needs. The data lives in
// registry.json (embedded at build time); this is its C++ view.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rwkv::hub {

// Weight files in one repo at one revision.
struct WeightSource {
  std::string repo;
  std::string revision;
  std::vector<std::string> files;
  uint64_t approx_bytes = 0;  // for display; 0 when unknown
};

// One place a tokenizer vocab can come from.
struct TokenizerSource {
  std::string repo;
  std::string revision;
  std::string file;
  std::string provenance;
};

struct RegistryEntry {
  std::string name;         // the --which name
  std::string arch;         // rwkv5 | rwkv6 | rwkv7 | rwkv7a | rwkv7b
  std::string description;
  std::string provenance;   // where the names and sizes come from
  WeightSource weights;
  std::vector<WeightSource> alternatives;  // the same model elsewhere, picked by --model-id
  std::optional<WeightSource> quantized;   // what --quantized downloads instead of `weights`
  std::string config_file;                 // in the weights repo; empty when none is needed
  std::vector<TokenizerSource> tokenizer;  // candidates, best first
};

// The registry compiled into the binary, in file order. Parsed (and checked) on first use.
const std::vector<RegistryEntry>& list_registry();
// The entry called `name`; throws UsageError listing the known names.
const RegistryEntry& find_model(std::string_view name);
// Parses registry JSON; throws Error naming the entry and field at fault.
std::vector<RegistryEntry> parse_registry(std::string_view json);

}  // namespace rwkv::hub
