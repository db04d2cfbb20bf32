// Emits pickle opcodes (protocol 2, as torch.save writes by default): enough to write a state
// dict of tensors, and for tests to hand-build the odd pickles a reader must handle or refuse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

class PickleWriter {
 public:
  // Starts with PROTO `protocol`.
  explicit PickleWriter(int protocol = 2);

  void op(uint8_t opcode) { out_.push_back(static_cast<char>(opcode)); }
  void mark() { op('('); }
  void empty_dict() { op('}'); }
  void empty_tuple() { op(')'); }
  void tuple() { op('t'); }  // everything since the last mark
  void tuple_n(int n);       // TUPLE1/2/3 (n = 1..3)
  void setitems() { op('u'); }
  void reduce() { op('R'); }
  void binpersid() { op('Q'); }
  void stop() { op('.'); }
  void none() { op('N'); }
  void boolean(bool v) { op(v ? 0x88 : 0x89); }
  void integer(int64_t v);  // BININT1/BININT2/BININT/LONG1, smallest that fits
  void string(std::string_view s);
  void global(std::string_view module, std::string_view name);
  void binput(uint32_t index);
  void binget(uint32_t index);
  void raw(std::string_view bytes) { out_ += bytes; }

  // _rebuild_tensor_v2(('storage', torch.<storage_class>, key, 'cpu', storage_numel),
  //                    offset, size, stride, False, OrderedDict())
  void tensor(std::string_view storage_class, std::string_view key, int64_t storage_numel, int64_t offset,
              const std::vector<int64_t>& size, const std::vector<int64_t>& stride);

  const std::string& bytes() const { return out_; }

 private:
  void ints_tuple(const std::vector<int64_t>& v);
  std::string out_;
};

}  // namespace rwkv
