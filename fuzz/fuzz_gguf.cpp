// Fuzzes the GGUF reader (header, metadata of every type, tensor infos, alignment, offsets) and
// the dequantizers behind it: every tensor that reads is widened to f32, so a block that lies
// about its size, or a dequantizer that reads past a block, is caught by AddressSanitizer.
#include "fuzz_util.h"
#include "io/readers.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const rwkv::TensorMap m = rwkv::read_gguf(rwkv::fuzz::as_file(data, size, "fuzz.gguf"));
    rwkv::fuzz::touch(m);
    for (const auto& name : m.names()) {
      const rwkv::TensorView& t = m.get(name);
      if (t.numel() <= (1 << 16)) rwkv::tensor_to_f32(t);  // bounded work per input
    }
  } catch (const rwkv::Error&) {
  }
  return 0;
}
