#include "hub/registry.h"

#include <nlohmann/json.hpp>

#include <map>

#include "util/error.h"

namespace rwkv::hub {

// registry.json, as a string (generated at build time: registry_data.cpp).
extern const std::string_view kRegistryJson;

namespace {

using nlohmann::json;

std::string str(const json& j, const char* key, const std::string& where, bool required = true) {
  if (!j.contains(key)) {
    if (required) throw Error("registry: {} has no \"{}\"", where, key);
    return {};
  }
  if (!j.at(key).is_string() || (required && j.at(key).get<std::string>().empty()))
    throw Error("registry: {}.{} must be a non-empty string", where, key);
  return j.at(key).get<std::string>();
}

WeightSource weight_source(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error("registry: {} must be an object", where);
  WeightSource s;
  s.repo = str(j, "repo", where);
  s.revision = str(j, "revision", where);
  if (!j.contains("files") || !j.at("files").is_array() || j.at("files").empty())
    throw Error("registry: {}.files must be a non-empty list", where);
  for (const auto& f : j.at("files")) {
    if (!f.is_string() || f.get<std::string>().empty()) throw Error("registry: {}.files holds a non-string", where);
    s.files.push_back(f.get<std::string>());
  }
  if (j.contains("approx_bytes")) {
    if (!j.at("approx_bytes").is_number_unsigned()) throw Error("registry: {}.approx_bytes must be a number", where);
    s.approx_bytes = j.at("approx_bytes").get<uint64_t>();
  }
  return s;
}

}  // namespace

std::vector<RegistryEntry> parse_registry(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    throw Error("registry: bad JSON: {}", e.what());
  }
  std::map<std::string, std::vector<TokenizerSource>> tokenizers;
  const json tokenizer_lists = doc.value("tokenizers", json::object());
  for (const auto& [key, list] : tokenizer_lists.items()) {
    if (!list.is_array() || list.empty()) throw Error("registry: tokenizers.{} must be a non-empty list", key);
    for (const auto& t : list) {
      const std::string where = "tokenizers." + key;
      tokenizers[key].push_back({str(t, "repo", where), str(t, "revision", where), str(t, "file", where),
                                 str(t, "provenance", where, false)});
    }
  }
  if (!doc.contains("models") || !doc.at("models").is_array()) throw Error("registry: no \"models\" list");
  std::vector<RegistryEntry> out;
  for (const auto& m : doc.at("models")) {
    RegistryEntry e;
    e.name = str(m, "name", "a model");
    const std::string where = "model " + e.name;
    for (const auto& seen : out)
      if (seen.name == e.name) throw Error("registry: {} is listed twice", where);
    e.arch = str(m, "arch", where);
    e.description = str(m, "description", where, false);
    e.provenance = str(m, "provenance", where, false);
    e.weights = weight_source(m.value("weights", json()), where + ".weights");
    for (const auto& a : m.value("alternatives", json::array()))
      e.alternatives.push_back(weight_source(a, where + ".alternatives"));
    if (m.contains("quantized") && !m.at("quantized").is_null())
      e.quantized = weight_source(m.at("quantized"), where + ".quantized");
    e.config_file = str(m, "config_file", where, false);
    const std::string tok = str(m, "tokenizer", where);
    if (!tokenizers.count(tok)) throw Error("registry: {} names tokenizer \"{}\", which is not in \"tokenizers\"", where, tok);
    e.tokenizer = tokenizers.at(tok);
    out.push_back(std::move(e));
  }
  return out;
}

const std::vector<RegistryEntry>& list_registry() {
  static const std::vector<RegistryEntry> entries = parse_registry(kRegistryJson);
  return entries;
}

const RegistryEntry& find_model(std::string_view name) {
  std::string names;
  for (const auto& e : list_registry()) {
    if (e.name == name) return e;
    names += (names.empty() ? "" : ", ") + e.name;
  }
  throw UsageError("unknown model '{}' for --which; the registry has: {} (see `rwkv models`)", name, names);
}

}  // namespace rwkv::hub
