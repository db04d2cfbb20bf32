// Reading the tokenizer test vectors: JSON Lines files and hex byte strings.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "support/fixtures.h"

namespace rwkv::test {

// One JSON value per line. Lines are split on '\n' only: the texts may hold U+2028, \r and other
// characters that some line readers also treat as line ends.
inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  std::vector<nlohmann::json> rows;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (nl > pos) rows.push_back(nlohmann::json::parse(text.begin() + pos, text.begin() + nl));
    pos = nl + 1;
  }
  return rows;
}

// "48656c" -> "Hel".
inline std::string unhex(std::string_view hex) {
  if (hex.size() % 2) throw std::invalid_argument("odd-length hex string");
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  return out;
}

}  // namespace rwkv::test
