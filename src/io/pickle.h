// A restricted unpickler for the data.pkl of a torch.save'd state dict. It never executes
// anything: it builds a small tree of plain values (ints, strings, tuples, dicts, ...) plus
// symbolic records of the few calls torch writes (`_rebuild_tensor_v2(...)`), which the .pth
// reader then interprets. Only the opcodes torch.save emits (protocols 2 to 5) and an allow-list
// of globals are accepted; anything else is an Error naming the opcode or global and its byte
// offset. Sizes are capped so a hostile pickle cannot exhaust memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace rwkv::pickle {

// The globals a state dict may name. Storage classes are only type tags (the dtype).
enum class Global : uint8_t {
  OrderedDict,                // collections.OrderedDict
  RebuildTensorV2,            // torch._utils._rebuild_tensor_v2
  RebuildParameter,           // torch._utils._rebuild_parameter (nn.Parameter saved as such)
  RebuildParameterWithState,  // torch._utils._rebuild_parameter_with_state (torch >= 2.0)
  StorageType,                // torch.FloatStorage, torch.BFloat16Storage, ... (name in Object::text)
};

enum class Kind : uint8_t { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Call, PersistentId };
const char* kind_name(Kind k);

struct Object {
  Kind kind = Kind::None;
  Global global = Global::OrderedDict;                           // Global: which one; Call: the callable
  int64_t integer = 0;                                           // Int; Bool as 0/1
  double real = 0;                                               // Float
  std::string text;                                              // String; Global and Call: "module.name"
  std::vector<const Object*> items;                              // Tuple, List; PersistentId: {the id}
  const Object* args = nullptr;                                  // Call: the argument tuple (shared, never copied)
  std::vector<std::pair<const Object*, const Object*>> entries;  // Dict, in insertion order
  uint64_t offset = 0;                                           // byte offset in the pickle of the opcode that made it

  bool is(Kind k) const { return kind == k; }
};

// The unpickled tree; owns every object (objects may be shared, e.g. a memoized storage id).
class Unpickled {
 public:
  const Object& root() const { return *root_; }

 private:
  friend class Unpickler;
  std::deque<Object> arena_;  // a deque keeps addresses stable as it grows
  const Object* root_ = nullptr;
};

// Limits that bound memory whatever the input says (real state dicts use a tiny fraction).
inline constexpr size_t kMaxObjects = size_t{1} << 20;
inline constexpr size_t kMaxStack = size_t{1} << 20;            // stack items, and open MARKs
inline constexpr size_t kMaxReferences = size_t{1} << 24;       // items held by all tuples, lists, dicts
inline constexpr uint64_t kMaxStringBytes = uint64_t{1} << 20;  // tensor names are short

// Unpickles `data`; `where` names the source in errors (e.g. "x.pth: archive/data.pkl").
Unpickled unpickle(std::span<const std::byte> data, const std::string& where);

}  // namespace rwkv::pickle
