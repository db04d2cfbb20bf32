#include "tokenizer/byte_trie.h"

#include <algorithm>

namespace rwkv {
namespace {

// Nodes with at least this many children get a 256-entry table instead of a label scan. Measured
// on bench-1mb.txt (docs/PERFORMANCE.md): lower values cost memory for no speed.
constexpr uint32_t kTableMinChildren = 8;

}  // namespace

std::pair<int32_t, int32_t> ByteTrie::build(std::vector<std::pair<std::string_view, int32_t>> keys) {
  // Sorted keys make every node's keys a contiguous range, and the keys of each child a
  // contiguous sub-range grouped by the next byte; a duplicate shows up as two equal neighbours.
  std::sort(keys.begin(), keys.end());
  for (size_t k = 1; k < keys.size(); ++k)
    if (keys[k].first == keys[k - 1].first) return {keys[k - 1].second, keys[k].second};

  struct Pending {
    uint32_t lo, hi;  // the keys below this node: keys[lo, hi)
    uint32_t depth;   // the node's prefix length
  };
  nodes_.assign(1, Node{});
  label_.assign(1, 0);
  tables_.clear();
  std::vector<Pending> pending{{0, static_cast<uint32_t>(keys.size()), 0}};

  // Breadth-first: the children of node `n` are appended while `n` is processed, so they are
  // consecutive; nodes_ grows behind the cursor until the last leaf.
  for (uint32_t n = 0; n < nodes_.size(); ++n) {
    auto [lo, hi, depth] = pending[n];
    // The shortest key of the range sorts first; if it is the prefix itself, it ends here.
    if (lo < hi && keys[lo].first.size() == depth) nodes_[n].token = keys[lo++].second;
    const auto first_child = static_cast<uint32_t>(nodes_.size());
    while (lo < hi) {
      const char byte = keys[lo].first[depth];
      uint32_t end = lo + 1;
      while (end < hi && keys[end].first[depth] == byte) ++end;
      nodes_.push_back(Node{});
      label_.push_back(static_cast<uint8_t>(byte));
      pending.push_back({lo, end, depth + 1});
      lo = end;
    }
    Node& node = nodes_[n];  // taken after the push_backs, which may move nodes_
    node.first_child = first_child;
    node.child_count = static_cast<uint32_t>(nodes_.size()) - first_child;
    if (node.child_count >= kTableMinChildren) {
      node.table = static_cast<int32_t>(tables_.size() / kTableSize);
      tables_.resize(tables_.size() + kTableSize, kNone);
      for (uint32_t c = first_child; c < first_child + node.child_count; ++c)
        tables_[static_cast<size_t>(node.table) * kTableSize + label_[c]] = c;
    }
  }
  return {kNoToken, kNoToken};
}

size_t ByteTrie::memory_bytes() const {
  return nodes_.size() * sizeof(Node) + label_.size() * sizeof(uint8_t) + tables_.size() * sizeof(uint32_t);
}

}  // namespace rwkv
