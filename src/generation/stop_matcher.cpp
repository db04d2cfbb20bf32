// Streaming stop-string matching. Why holding back the longest stop-prefix suffix is enough: a
// stop string that started in text already returned would have had to be, at that time, either
// complete (then it was found) or a prefix still open at the end (then it was held back, not
// returned). So every stop string still possible starts in the held-back bytes.
#include <algorithm>

#include "generation/utf8.h"
#include "rwkv/generation.h"
#include "util/error.h"

namespace rwkv {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const auto& s : stops_) {
    if (s.empty()) throw UsageError("--stop: a stop string must not be empty");
    if (!generation::is_valid_utf8(s)) throw UsageError("--stop: the stop string '{}' is not valid UTF-8", s);
  }
}

std::string StopMatcher::feed(std::string_view bytes) {
  if (stopped()) return {};
  held_.append(bytes);

  // A complete stop string: the one that ends first (then starts first) ends the text.
  size_t best_start = std::string::npos, best_end = std::string::npos;
  for (size_t j = 0; j < stops_.size(); ++j) {
    const size_t start = held_.find(stops_[j]);
    if (start == std::string::npos) continue;
    const size_t end = start + stops_[j].size();
    if (end < best_end || (end == best_end && start < best_start)) {
      best_start = start;
      best_end = end;
      matched_ = j;
    }
  }
  if (stopped()) {
    std::string out = held_.substr(0, best_start);
    held_.clear();
    return out;
  }

  // Hold back from the earliest position where the rest is a proper prefix of some stop string
  // (only the last longest-stop-minus-one bytes can be).
  const std::string_view held = held_;
  size_t longest = 0;
  for (const auto& s : stops_) longest = std::max(longest, s.size());
  size_t keep_from = held.size();
  for (size_t start = held.size() - std::min(held.size(), longest > 0 ? longest - 1 : 0);
       start < held.size() && keep_from == held.size(); ++start) {
    const std::string_view rest = held.substr(start);
    for (const auto& s : stops_) {
      if (rest.size() < s.size() && std::string_view(s).substr(0, rest.size()) == rest) {
        keep_from = start;
        break;
      }
    }
  }
  // And never end the output inside a character.
  keep_from = std::min(keep_from, generation::incomplete_utf8_tail(held));
  std::string out = held_.substr(0, keep_from);
  held_.erase(0, keep_from);
  return out;
}

std::string StopMatcher::finish() {
  std::string out;
  out.swap(held_);
  return out;
}

void StopMatcher::reset() {
  held_.clear();
  matched_.reset();
}

}  // namespace rwkv
