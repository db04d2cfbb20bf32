// Shared set-up for the hub tests: a TestHub, a cache in a TempDir, and HubOptions pointing at
// both (never the real ~/.cache), silent and without retry delays.
#pragma once

#include <random>
#include <string>

#include "hub/hub.h"
#include "support/fixtures.h"
#include "support/hub_server.h"

namespace rwkv::test {

class HubTestBase : public ::testing::Test {
 protected:
  HubTestBase() {
    opt.endpoint = hub.endpoint();
    opt.cache_dir = tmp.path() / "hub";
    opt.progress = hub::ProgressStyle::None;
    opt.retry_delay = std::chrono::milliseconds(0);
    opt.connect_timeout_s = 5;
    opt.stall_timeout_s = 10;
  }
  // `n` pseudo-random bytes (fixed seed per call site value).
  static std::string random_bytes(size_t n, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  }
  // Requests whose target contains `part`.
  std::vector<TestHub::Request> requests_to(const std::string& part) const {
    std::vector<TestHub::Request> out;
    for (const auto& r : hub.requests())
      if (r.target.find(part) != std::string::npos) out.push_back(r);
    return out;
  }

  TempDir tmp;
  TestHub hub;
  hub::HubOptions opt;
};

}  // namespace rwkv::test
