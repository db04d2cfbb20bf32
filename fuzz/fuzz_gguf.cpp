// Fuzzes the GGUF reader (header, metadata of every type, tensor infos, alignment, offsets), the
// dequantizers behind it (every tensor that reads is widened to f32, so a block that lies about
// its size, or a dequantizer that reads past a block, is caught by AddressSanitizer) and the RWKV
// World vocab a GGUF may store (tokenizer.ggml.*).
#include "fuzz_util.h"
#include "io/readers.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const rwkv::TensorMap m = rwkv::read_gguf(rwkv::fuzz::as_file(data, size, "fuzz.gguf"));
    rwkv::fuzz::touch(m);
    for (const auto& name : m.names()) {
      const rwkv::TensorView& t = m.get(name);
      if (t.numel() <= (1 << 16)) rwkv::tensor_to_f32(t);  // bounded work per input
    }
    if (rwkv::gguf_has_rwkv_vocab(m.metadata())) rwkv::parse_vocab_gguf(m.metadata(), "fuzz.gguf");
  } catch (const rwkv::Error&) {
  }
  return 0;
}
