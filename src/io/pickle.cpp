// The restricted unpickler. Opcode meanings follow CPython's Lib/pickletools.py; the subset is
// what torch.save (Python's pickler, protocol 2 by default, up to 5 on request) writes for a
// dict or OrderedDict of tensors, including an OrderedDict's `_metadata` state (BUILD).
#include "io/pickle.h"

#include <bit>
#include <cstring>
#include <unordered_map>

#include "io/le_bytes.h"
#include "util/error.h"

namespace rwkv::pickle {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Call: return "call";
    case Kind::PersistentId: return "persistent id";
  }
  return "?";
}

namespace {

// Every opcode of protocols 0-5, so that refusals can name what they refuse.
const char* opcode_name(uint8_t op) {
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

struct AllowedGlobal {
  const char* module;
  const char* name;
  Global global;
};
constexpr AllowedGlobal kAllowed[] = {
    {"collections", "OrderedDict", Global::OrderedDict},
    {"torch._utils", "_rebuild_tensor_v2", Global::RebuildTensorV2},
    {"torch._utils", "_rebuild_parameter", Global::RebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", Global::RebuildParameterWithState},
};
// Storage classes are harmless type tags; the .pth reader accepts only the float ones and names
// the others in a clear dtype error, so they are all allowed here.
constexpr const char* kStorageClasses[] = {
    "FloatStorage",        "HalfStorage",          "BFloat16Storage", "DoubleStorage", "LongStorage",
    "IntStorage",          "ShortStorage",         "CharStorage",     "ByteStorage",   "BoolStorage",
    "ComplexFloatStorage", "ComplexDoubleStorage", "UntypedStorage"};

constexpr size_t kMaxGlobalLine = 256;

}  // namespace

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> data, const std::string& where) : data_(data), where_(where) {}

  Unpickled run() {
    while (true) {
      if (pos_ >= data_.size())
        throw Error("{}: pickle ends at byte {} without a STOP opcode; data.pkl is truncated", where_, pos_);
      op_pos_ = pos_;
      op_ = static_cast<uint8_t>(data_[pos_++]);
      if (op_ == '.') break;
      step();
    }
    if (!marks_.empty()) fail("a MARK is still open");
    out_.root_ = pop();
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    const char* name = opcode_name(op_);
    throw Error("{}: pickle opcode {} (0x{:02x}) at byte {}: {}", where_, name ? name : "?", op_, op_pos_, why);
  }

  // ---- reading the opcode's argument bytes ----
  const std::byte* take(uint64_t n) {
    if (n > data_.size() - pos_)
      fail(
          fmt::format("its argument needs {} bytes but only {} remain; data.pkl is truncated", n, data_.size() - pos_));
    const std::byte* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  template <typename T>
  T arg() {
    return load_le<T>(take(sizeof(T)));
  }
  std::string line() {
    const size_t limit = std::min(data_.size() - pos_, kMaxGlobalLine);
    for (size_t i = 0; i < limit; ++i) {
      if (data_[pos_ + i] == std::byte{'\n'}) {
        std::string s(reinterpret_cast<const char*>(data_.data() + pos_), i);
        pos_ += i + 1;
        return s;
      }
    }
    fail("expected a newline-terminated name of at most 256 bytes");
  }

  // ---- objects and the stack ----
  Object* make(Kind k) {
    if (out_.arena_.size() >= kMaxObjects) fail(fmt::format("more than {} objects; refusing to go on", kMaxObjects));
    Object& o = out_.arena_.emplace_back();
    o.kind = k;
    o.offset = op_pos_;
    return &o;
  }
  void push(Object* o) {
    if (stack_.size() >= kMaxStack) fail(fmt::format("the stack holds more than {} items", kMaxStack));
    stack_.push_back(o);
  }
  Object* pop() {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) fail("stack underflow");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object* top() {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) fail("stack underflow");
    return stack_.back();
  }
  // Counts references stored in containers: items can be pushed again and again from the memo,
  // so without this bound a small pickle could build huge containers.
  void hold(size_t n) {
    references_ += n;
    if (references_ > kMaxReferences) fail(fmt::format("containers hold more than {} items", kMaxReferences));
  }
  // Pops everything above the last MARK, and the mark.
  std::vector<Object*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Object* expect(Object* o, Kind k, const char* role) {
    if (o->kind != k) fail(fmt::format("{} must be a {}, not a {}", role, kind_name(k), kind_name(o->kind)));
    return o;
  }

  void push_int(int64_t v) {
    Object* o = make(Kind::Int);
    o->integer = v;
    push(o);
  }
  void push_string(uint64_t n) {
    if (n > kMaxStringBytes)
      fail(fmt::format("a string of {} bytes is implausible here (limit {})", n, kMaxStringBytes));
    const std::byte* p = take(n);
    Object* o = make(Kind::String);
    o->text.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    push(o);
  }
  void push_tuple(std::vector<Object*> items) {
    Object* o = make(Kind::Tuple);
    hold(items.size());
    o->items.assign(items.begin(), items.end());
    push(o);
  }
  void push_global(const std::string& module, const std::string& name) {
    Object* o = make(Kind::Global);
    o->text = module + "." + name;
    for (const auto& a : kAllowed) {
      if (module == a.module && name == a.name) {
        o->global = a.global;
        push(o);
        return;
      }
    }
    if (module == "torch") {
      for (const char* s : kStorageClasses) {
        if (name == s) {
          o->global = Global::StorageType;
          push(o);
          return;
        }
      }
    }
    fail(
        fmt::format("global '{} {}' is not allowed: a .pth state dict only names torch's tensor rebuild "
                    "functions, torch storage classes and collections.OrderedDict (this file may try to run code)",
                    module, name));
  }

  void memo_put(uint64_t index) {
    if (memo_.size() >= kMaxObjects && !memo_.count(index)) fail("too many memo entries");
    memo_[index] = top();
  }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail(fmt::format("memo index {} was never stored", index));
    push(it->second);
  }

  void set_items(Object* dict, const std::vector<Object*>& kv) {
    expect(dict, Kind::Dict, "the target of SETITEM(S)");
    if (kv.size() % 2) fail("odd number of items for key/value pairs");
    hold(kv.size());
    for (size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
  }
  void append_items(Object* list, const std::vector<Object*>& items) {
    expect(list, Kind::List, "the target of APPEND(S)");
    hold(items.size());
    list->items.insert(list->items.end(), items.begin(), items.end());
  }

  void reduce() {
    Object* args = expect(pop(), Kind::Tuple, "the REDUCE arguments");
    Object* callable = expect(pop(), Kind::Global, "the REDUCE callable");
    switch (callable->global) {
      case Global::OrderedDict:
        // OrderedDict() starts empty; its items follow as SETITEMS.
        if (!args->items.empty()) fail("collections.OrderedDict is only accepted with no arguments");
        push(make(Kind::Dict));
        return;
      case Global::StorageType: fail(fmt::format("{} cannot be called here", callable->text));
      default: {
        Object* call = make(Kind::Call);
        call->global = callable->global;
        call->text = callable->text;
        call->args = args;  // referenced, not copied: a memoized tuple may be reused by many calls
        push(call);
        return;
      }
    }
  }

  // BUILD sets an object's state: torch writes it for a state dict's `_metadata` (an
  // OrderedDict attribute with per-module versions), which carries no tensor data: ignored.
  void build() {
    Object* state = pop();
    Object* target = top();
    if (target->kind != Kind::Dict)
      fail(fmt::format("BUILD is only accepted on a dict, not a {}", kind_name(target->kind)));
    if (state->kind != Kind::Dict)
      fail(fmt::format("the BUILD state must be a dict, not a {}", kind_name(state->kind)));
  }

  void step() {
    switch (op_) {
      case 0x80: {  // PROTO
        const uint8_t v = arg<uint8_t>();
        if (v < 2 || v > 5) fail(fmt::format("pickle protocol {} is not supported (torch.save writes 2 to 5)", v));
        return;
      }
      case 0x95: {  // FRAME: a length prefix for buffering; the opcodes simply continue inline
        const uint64_t n = arg<uint64_t>();
        if (n > data_.size() - pos_) fail(fmt::format("frame of {} bytes runs past the end of the pickle", n));
        return;
      }
      case '(':
        if (marks_.size() >= kMaxStack) fail(fmt::format("more than {} open MARKs", kMaxStack));
        marks_.push_back(stack_.size());
        return;
      case '0': pop(); return;
      case '1': pop_mark(); return;
      case 'N': push(make(Kind::None)); return;
      case 0x88:
      case 0x89: {
        Object* o = make(Kind::Bool);
        o->integer = op_ == 0x88;
        push(o);
        return;
      }
      case 'J': push_int(arg<int32_t>()); return;
      case 'K': push_int(arg<uint8_t>()); return;
      case 'M': push_int(arg<uint16_t>()); return;
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        const uint8_t n = arg<uint8_t>();
        if (n > 8) fail(fmt::format("a {}-byte integer does not fit in 64 bits", n));
        const std::byte* p = take(n);
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
        if (n > 0 && n < 8 && (static_cast<uint8_t>(p[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
        push_int(static_cast<int64_t>(v));
        return;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const std::byte* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(p[i]);
        Object* o = make(Kind::Float);
        o->real = std::bit_cast<double>(bits);
        push(o);
        return;
      }
      case 'X': push_string(arg<uint32_t>()); return;
      case 0x8c: push_string(arg<uint8_t>()); return;
      case 0x8d: push_string(arg<uint64_t>()); return;
      case '}': push(make(Kind::Dict)); return;
      case ']': push(make(Kind::List)); return;
      case ')': push(make(Kind::Tuple)); return;
      case 't': push_tuple(pop_mark()); return;
      case 0x85:
      case 0x86:
      case 0x87: {
        const size_t n = op_ - 0x84u;
        std::vector<Object*> items(n);
        for (size_t i = n; i-- > 0;) items[i] = pop();
        push_tuple(std::move(items));
        return;
      }
      case 'q': memo_put(arg<uint8_t>()); return;
      case 'r': memo_put(arg<uint32_t>()); return;
      case 0x94: memo_put(memo_.size()); return;
      case 'h': memo_get(arg<uint8_t>()); return;
      case 'j': memo_get(arg<uint32_t>()); return;
      case 's': {
        Object* value = pop();
        Object* key = pop();
        set_items(top(), {key, value});
        return;
      }
      case 'u': {
        auto kv = pop_mark();
        set_items(top(), kv);
        return;
      }
      case 'a': {
        Object* value = pop();
        append_items(top(), {value});
        return;
      }
      case 'e': {
        auto items = pop_mark();
        append_items(top(), items);
        return;
      }
      case 'c': {
        const std::string module = line();
        const std::string name = line();
        push_global(module, name);
        return;
      }
      case 0x93: {  // STACK_GLOBAL (protocol 4+): module and name come from the stack
        const Object* name = expect(pop(), Kind::String, "the STACK_GLOBAL name");
        const Object* module = expect(pop(), Kind::String, "the STACK_GLOBAL module");
        push_global(module->text, name->text);
        return;
      }
      case 'R': reduce(); return;
      case 'Q': {
        Object* id = pop();
        Object* o = make(Kind::PersistentId);
        o->items.push_back(id);
        push(o);
        return;
      }
      case 'b': build(); return;
      default: {
        const char* name = opcode_name(op_);
        fail(name ? "this opcode is not accepted in a .pth state dict"
                  : "unknown opcode; data.pkl is corrupt or not a pickle");
      }
    }
  }

  std::span<const std::byte> data_;
  const std::string& where_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  Unpickled out_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;
  size_t references_ = 0;
};

Unpickled unpickle(std::span<const std::byte> data, const std::string& where) { return Unpickler(data, where).run(); }

}  // namespace rwkv::pickle
