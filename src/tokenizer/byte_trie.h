// A byte trie for greedy longest-match tokenization.
//
// Layout: nodes are numbered in breadth-first order, so the children of a node are consecutive
// (first_child .. first_child + child_count - 1) and sorted by byte; label_[n] is the byte on the
// edge into node n. A child is found by scanning the few labels of a node, except that nodes with
// many children (the root, common prefixes like " t") get a 256-entry table. For the World vocab
// that is 116k nodes and 3.9k tables in ~5.5 MB; a lookup is a table read or a scan of 1-3 bytes.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/vocab.h"

namespace rwkv {

class ByteTrie {
 public:
  static constexpr int32_t kNoToken = -1;

  struct Match {
    int32_t id = kNoToken;  // the token id, or kNoToken when no key is a prefix of the text
    size_t length = 0;      // its length in bytes
  };

  // Builds the trie of every token of `vocab` (which must outlive only this call). Returns a pair
  // of ids with the same bytes if there is one (the caller reports it), else {kNoToken, kNoToken}.
  std::pair<int32_t, int32_t> build(const Vocab& vocab);

  // The longest key that is a prefix of `text`.
  Match longest_prefix(std::string_view text) const {
    Match best;
    uint32_t node = kRoot;
    for (size_t i = 0; i < text.size(); ++i) {
      node = child(node, static_cast<uint8_t>(text[i]));
      if (node == kNone) break;
      if (nodes_[node].token != kNoToken) best = {nodes_[node].token, i + 1};
    }
    return best;
  }

  size_t node_count() const { return nodes_.size(); }
  size_t memory_bytes() const;

 private:
  static constexpr uint32_t kRoot = 0;
  static constexpr uint32_t kNone = 0;  // the root is never a child, so 0 can mean "no child"
  static constexpr uint16_t kNoTable = 0xFFFF;  // also bounds the number of tables
  static constexpr uint32_t kTableSize = 256;

  struct Node {  // 12 bytes: the node array is most of the memory a load touches
    int32_t token = kNoToken;   // id of the key that ends here
    uint32_t first_child = 0;
    uint16_t child_count = 0;   // at most 256
    uint16_t table = kNoTable;  // index of this node's 256-entry child table, if it has one
  };

  // Gives the nodes with many children their 256-entry table.
  void build_tables();

  uint32_t child(uint32_t node, uint8_t byte) const {
    const Node& n = nodes_[node];
    if (n.table != kNoTable) return tables_[static_cast<size_t>(n.table) * kTableSize + byte];
    const uint8_t* labels = label_.data() + n.first_child;
    for (uint32_t k = 0; k < n.child_count; ++k)
      if (labels[k] == byte) return n.first_child + k;
    return kNone;
  }

  std::vector<Node> nodes_;
  std::vector<uint8_t> label_;    // per node: the byte on the edge from its parent
  // kTableSize entries per node with a table: the child for each byte, or kNone. (Storing 16-bit
  // ranks among the siblings instead halves the tables but made encoding ~35% slower.)
  std::vector<uint32_t> tables_;
};

}  // namespace rwkv
