#include "support/golden.h"

#include <algorithm>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"

namespace rwkv::test {

bool load_golden_case(const std::string& name, GoldenCase* out) {
  auto dir = fixtures_dir();
  if (!dir || !std::filesystem::exists(*dir / name / "case.json")) return false;
  const auto j = nlohmann::json::parse(read_file(*dir / name / "case.json"));
  out->dir = *dir / name;
  out->tokens = j.at("tokens").get<std::vector<int32_t>>();
  if (j.contains("tokens_long")) out->tokens_long = j.at("tokens_long").get<std::vector<int32_t>>();
  out->vocab = j.at("vocab_size").get<int64_t>();
  return true;
}

std::vector<float> run_logits(Model& model, const std::vector<int32_t>& tokens, const std::string& mode) {
  const size_t V = static_cast<size_t>(model.hparams().vocab);
  std::vector<float> logits(tokens.size() * V);
  State state = model.new_state();
  if (mode == "seq") {
    model.forward(tokens, state, Logits::All, logits.data());
  } else {
    for (size_t t = 0; t < tokens.size(); ++t) model.step(tokens[t], state, logits.data() + t * V);
  }
  return logits;
}

void expect_official_logits(const GoldenCase& c, const std::string& file, const std::string& mode,
                            const ModelOptions& options, double tolerance) {
  auto model = Model::load({(c.dir / file).string()}, options);
  const auto logits = run_logits(*model, c.tokens, mode);
  const auto expected = read_f32(c.dir / "logits.f32");
  ASSERT_EQ(logits.size(), expected.size());
  const double diff = max_abs_diff(logits, expected);
  EXPECT_LE(diff, tolerance) << model->describe();
  ::testing::Test::RecordProperty("max_abs_diff", std::to_string(diff));
}

int top1_agreement(const std::vector<float>& got, const std::vector<float>& want, int64_t vocab) {
  const size_t V = static_cast<size_t>(vocab), rows = std::min(got.size(), want.size()) / V;
  int agree = 0;
  for (size_t t = 0; t < rows; ++t) {
    auto argmax = [&](const std::vector<float>& v) {
      return std::max_element(v.begin() + t * V, v.begin() + (t + 1) * V) - (v.begin() + t * V);
    };
    agree += argmax(got) == argmax(want);
  }
  return agree;
}

int replayed_steps(const Model& model, const std::string& suffix) {
  std::smatch m;
  const std::string d = model.describe();
  if (!std::regex_search(d, m, std::regex("(\\d+) of (\\d+) one-token steps replayed" + suffix))) return -1;
  return std::stoi(m[1]);
}

}  // namespace rwkv::test
