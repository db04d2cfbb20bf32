#include "tokenizer/byte_trie.h"

#include <algorithm>
#include <array>

namespace rwkv {
namespace {

// Nodes with at least this many children get a 256-entry table instead of a label scan. On
// bench-1mb.txt, 8 encodes ~25% slower than 4, and 2 needs 2.4x the memory (and load time) of 4
// for no gain (docs/PERFORMANCE.md).
constexpr uint32_t kTableMinChildren = 4;
// Ranges of keys at least this long are grouped by a counting sort; shorter ones by std::sort,
// whose insertion sort beats clearing 256 counters.
constexpr uint32_t kCountingSortMin = 32;

using Key = std::pair<std::string_view, int32_t>;

// The byte of `key` at `depth` as 1..256, or 0 when the key ends there: sorting by it puts a key
// that ends at this node first, then the others grouped by their next byte.
uint32_t rank_at(const Key& key, uint32_t depth) {
  return key.first.size() == depth ? 0 : static_cast<uint8_t>(key.first[depth]) + 1u;
}

// Orders keys[lo, hi) by rank_at(depth).
void sort_by_rank(std::vector<Key>& keys, uint32_t lo, uint32_t hi, uint32_t depth, std::vector<Key>& scratch) {
  if (hi - lo < 2) return;  // the tail of one long key: most nodes
  if (hi - lo < kCountingSortMin) {
    std::sort(keys.begin() + lo, keys.begin() + hi,
              [depth](const Key& a, const Key& b) { return rank_at(a, depth) < rank_at(b, depth); });
    return;
  }
  constexpr size_t kRanks = 257;
  std::array<uint32_t, kRanks + 1> start{};  // start[r + 1] counts rank r; then where rank r goes
  for (uint32_t k = lo; k < hi; ++k) ++start[rank_at(keys[k], depth) + 1];
  for (size_t r = 1; r < start.size(); ++r) start[r] += start[r - 1];
  scratch.resize(hi - lo);
  for (uint32_t k = lo; k < hi; ++k) scratch[start[rank_at(keys[k], depth)]++] = keys[k];
  std::copy(scratch.begin(), scratch.end(), keys.begin() + lo);
}

}  // namespace

std::pair<int32_t, int32_t> ByteTrie::build(std::vector<std::pair<std::string_view, int32_t>> keys) {
  struct Pending {
    uint32_t lo, hi;  // the keys below this node: keys[lo, hi)
    uint32_t depth;   // the node's prefix length
  };
  nodes_.assign(1, Node{});
  label_.assign(1, 0);
  tables_.clear();
  std::vector<Pending> pending{{0, static_cast<uint32_t>(keys.size()), 0}};
  std::vector<Key> scratch;
  // A trie has at most one node per key byte, plus the root. Reserving that bound spares the
  // copies of regrowth; the pages of the unused tail are never touched, so they cost no memory
  // (and on a fresh process, page faults are most of the load time).
  size_t key_bytes = 0;
  for (const Key& k : keys) key_bytes += k.first.size();
  nodes_.reserve(key_bytes + 1);
  label_.reserve(key_bytes + 1);
  pending.reserve(key_bytes + 1);

  // Breadth-first: the children of node `n` are appended while `n` is processed, so they are
  // consecutive; nodes_ grows behind the cursor until the last leaf. Each node sorts only the
  // keys below it, by one byte, so a key is touched once per byte.
  for (uint32_t n = 0; n < nodes_.size(); ++n) {
    auto [lo, hi, depth] = pending[n];
    sort_by_rank(keys, lo, hi, depth, scratch);
    // A key as long as the prefix ends here (it sorted first); a second one has the same bytes.
    if (lo < hi && keys[lo].first.size() == depth) {
      if (lo + 1 < hi && keys[lo + 1].first.size() == depth) return {keys[lo].second, keys[lo + 1].second};
      nodes_[n].token = keys[lo++].second;
    }
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
    nodes_[n].first_child = first_child;
    nodes_[n].child_count = static_cast<uint32_t>(nodes_.size()) - first_child;
  }
  build_tables();
  return {kNoToken, kNoToken};
}

void ByteTrie::build_tables() {
  size_t count = 0;
  for (const Node& node : nodes_) count += node.child_count >= kTableMinChildren ? 1 : 0;
  tables_.assign(count * kTableSize, kAbsent);
  int32_t next = 0;
  for (Node& node : nodes_) {
    if (node.child_count < kTableMinChildren) continue;
    node.table = next++;
    uint16_t* table = tables_.data() + static_cast<size_t>(node.table) * kTableSize;
    for (uint32_t rank = 0; rank < node.child_count; ++rank)
      table[label_[node.first_child + rank]] = static_cast<uint16_t>(rank + 1);
  }
}

size_t ByteTrie::memory_bytes() const {
  return nodes_.size() * sizeof(Node) + label_.size() * sizeof(uint8_t) + tables_.size() * sizeof(uint16_t);
}

}  // namespace rwkv
