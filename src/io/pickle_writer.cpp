#include "io/pickle_writer.h"

#include "io/le_bytes.h"

namespace rwkv {

PickleWriter::PickleWriter(int protocol) {
  op(0x80);
  op(static_cast<uint8_t>(protocol));
}

void PickleWriter::tuple_n(int n) { op(static_cast<uint8_t>(0x84 + n)); }

void PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < 0x100) {
    op('K');
    append_le<uint8_t>(out_, static_cast<uint8_t>(v));
  } else if (v >= 0 && v < 0x10000) {
    op('M');
    append_le<uint16_t>(out_, static_cast<uint16_t>(v));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op('J');
    append_le<int32_t>(out_, static_cast<int32_t>(v));
  } else {  // LONG1: the shortest little-endian two's complement that keeps the sign
    std::string b;
    int64_t x = v;
    do {
      b.push_back(static_cast<char>(x & 0xff));
      x >>= 8;  // arithmetic shift keeps the sign
    } while (!((x == 0 && !(b.back() & 0x80)) || (x == -1 && (b.back() & 0x80))));
    op(0x8a);
    append_le<uint8_t>(out_, static_cast<uint8_t>(b.size()));
    out_ += b;
  }
}

void PickleWriter::string(std::string_view s) {
  op('X');
  append_le<uint32_t>(out_, static_cast<uint32_t>(s.size()));
  out_ += s;
}

void PickleWriter::global(std::string_view module, std::string_view name) {
  op('c');
  out_ += module;
  out_ += '\n';
  out_ += name;
  out_ += '\n';
}

void PickleWriter::binput(uint32_t index) {
  if (index < 0x100) {
    op('q');
    append_le<uint8_t>(out_, static_cast<uint8_t>(index));
  } else {
    op('r');
    append_le<uint32_t>(out_, index);
  }
}

void PickleWriter::binget(uint32_t index) {
  if (index < 0x100) {
    op('h');
    append_le<uint8_t>(out_, static_cast<uint8_t>(index));
  } else {
    op('j');
    append_le<uint32_t>(out_, index);
  }
}

void PickleWriter::ints_tuple(const std::vector<int64_t>& v) {
  if (v.empty()) return empty_tuple();
  if (v.size() > 3) mark();
  for (int64_t x : v) integer(x);
  if (v.size() > 3)
    tuple();
  else
    tuple_n(static_cast<int>(v.size()));
}

void PickleWriter::tensor(std::string_view storage_class, std::string_view key, int64_t storage_numel, int64_t offset,
                          const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
  global("torch._utils", "_rebuild_tensor_v2");
  mark();
  mark();  // the persistent id: ('storage', storage class, key, location, numel)
  string("storage");
  global("torch", storage_class);
  string(key);
  string("cpu");
  integer(storage_numel);
  tuple();
  binpersid();
  integer(offset);
  ints_tuple(size);
  ints_tuple(stride);
  boolean(false);                        // requires_grad
  global("collections", "OrderedDict");  // backward_hooks = OrderedDict()
  empty_tuple();
  reduce();
  tuple();
  reduce();
}

}  // namespace rwkv
