#include "tokenizer/byte_trie.h"

#include <algorithm>
#include <array>

namespace rwkv {
namespace {

// Nodes with at least this many children get a 256-entry table instead of a label scan. Measured
// on bench-1mb.txt against 4: 8 encodes ~30% slower and loads ~1 ms faster; 2 is no faster but
// needs 3x the memory and ~5 ms more to load (docs/PERFORMANCE.md).
constexpr uint32_t kTableMinChildren = 4;
// Ranges of keys at least this long are grouped by a counting sort; shorter ones by std::sort,
// whose insertion sort beats clearing 256 counters.
constexpr uint32_t kCountingSortMin = 32;

// The keys being sorted are token ids; their bytes are read from the vocab in place (4 bytes a
// key to move around instead of a 24-byte string_view and id: page faults dominate a cold load).
class KeyBytes {
 public:
  explicit KeyBytes(const Vocab& vocab) : bytes_(vocab.bytes.data()), spans_(vocab.spans.data()) {}
  uint32_t length(int32_t id) const { return spans_[id].length; }
  uint8_t byte_at(int32_t id, uint32_t depth) const {
    return static_cast<uint8_t>(bytes_[spans_[id].offset + depth]);
  }
  // The byte at `depth` as 1..256, or 0 when the key ends there: sorting by it puts a key that
  // ends at this node first, then the others grouped by their next byte.
  uint32_t rank_at(int32_t id, uint32_t depth) const {
    return length(id) == depth ? 0 : byte_at(id, depth) + 1u;
  }

 private:
  const char* bytes_;
  const Vocab::Span* spans_;
};

// Orders keys[lo, hi) by rank_at(depth).
void sort_by_rank(const KeyBytes& kb, std::vector<int32_t>& keys, uint32_t lo, uint32_t hi, uint32_t depth,
                  std::vector<int32_t>& scratch) {
  if (hi - lo < 2) return;  // the tail of one long key: most nodes
  if (hi - lo < kCountingSortMin) {
    std::sort(keys.begin() + lo, keys.begin() + hi,
              [&](int32_t a, int32_t b) { return kb.rank_at(a, depth) < kb.rank_at(b, depth); });
    return;
  }
  constexpr size_t kRanks = 257;
  std::array<uint32_t, kRanks + 1> start{};  // start[r + 1] counts rank r; then where rank r goes
  for (uint32_t k = lo; k < hi; ++k) ++start[kb.rank_at(keys[k], depth) + 1];
  for (size_t r = 1; r < start.size(); ++r) start[r] += start[r - 1];
  scratch.resize(hi - lo);
  for (uint32_t k = lo; k < hi; ++k) scratch[start[kb.rank_at(keys[k], depth)]++] = keys[k];
  std::copy(scratch.begin(), scratch.end(), keys.begin() + lo);
}

}  // namespace

std::pair<int32_t, int32_t> ByteTrie::build(const Vocab& vocab) {
  const KeyBytes kb(vocab);
  std::vector<int32_t> keys;
  size_t key_bytes = 0;
  for (int32_t id = 0; id < static_cast<int32_t>(vocab.spans.size()); ++id) {
    if (!vocab.has(id)) continue;
    keys.push_back(id);
    key_bytes += kb.length(id);
  }
  struct Range {
    uint32_t lo, hi;  // the keys below a node: keys[lo, hi)
  };
  std::vector<Range> pending{{0, static_cast<uint32_t>(keys.size())}};  // per node
  std::vector<int32_t> scratch;
  nodes_.assign(1, Node{});
  label_.assign(1, 0);
  // A trie has at most one node per key byte, plus the root. Reserving that bound spares the
  // copies of regrowth; the pages of the unused tail are never touched, so they cost no memory.
  nodes_.reserve(key_bytes + 1);
  label_.reserve(key_bytes + 1);
  pending.reserve(key_bytes + 1);

  // Breadth-first: the children of node `n` are appended while `n` is processed, so they are
  // consecutive; nodes_ grows behind the cursor until the last leaf. Each node sorts only the
  // keys below it, by one byte, so a key is touched about once per byte.
  uint32_t depth = 0;      // the prefix length of node n
  uint32_t level_end = 1;  // one past the last node at this depth
  for (uint32_t n = 0; n < nodes_.size(); ++n) {
    if (n == level_end) {  // all nodes of this depth done: their children are the next level
      ++depth;
      level_end = static_cast<uint32_t>(nodes_.size());
    }
    auto [lo, hi] = pending[n];
    sort_by_rank(kb, keys, lo, hi, depth, scratch);
    // A key as long as the prefix ends here (it sorted first); a second one has the same bytes.
    if (lo < hi && kb.length(keys[lo]) == depth) {
      if (lo + 1 < hi && kb.length(keys[lo + 1]) == depth) return {keys[lo], keys[lo + 1]};
      nodes_[n].token = keys[lo++];
    }
    const auto first_child = static_cast<uint32_t>(nodes_.size());
    while (lo < hi) {
      const uint8_t byte = kb.byte_at(keys[lo], depth);
      uint32_t end = lo + 1;
      while (end < hi && kb.byte_at(keys[end], depth) == byte) ++end;
      nodes_.push_back(Node{});
      label_.push_back(byte);
      pending.push_back({lo, end});
      lo = end;
    }
    nodes_[n].first_child = first_child;
    nodes_[n].child_count = static_cast<uint16_t>(nodes_.size() - first_child);
  }
  build_tables();
  return {kNoToken, kNoToken};
}

void ByteTrie::build_tables() {
  // Tables beyond the 16-bit index limit (far more than the World vocab needs) are not made;
  // their nodes scan instead.
  size_t count = 0;
  for (const Node& node : nodes_) count += node.child_count >= kTableMinChildren ? 1 : 0;
  count = std::min<size_t>(count, kNoTable);
  tables_.assign(count * kTableSize, kNone);
  uint16_t next = 0;
  for (Node& node : nodes_) {
    if (node.child_count < kTableMinChildren || next == count) continue;
    node.table = next++;
    uint32_t* table = tables_.data() + static_cast<size_t>(node.table) * kTableSize;
    for (uint32_t c = node.first_child; c < node.first_child + node.child_count; ++c) table[label_[c]] = c;
  }
}

size_t ByteTrie::memory_bytes() const {
  return nodes_.size() * sizeof(Node) + label_.size() * sizeof(uint8_t) + tables_.size() * sizeof(uint32_t);
}

}  // namespace rwkv
