// Fuzzes the safetensors reader (length prefix, JSON header, offsets).
#include "fuzz_util.h"
#include "io/readers.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rwkv::fuzz::touch(rwkv::read_safetensors(rwkv::fuzz::as_file(data, size, "fuzz.safetensors")));
  } catch (const rwkv::Error&) {
  }
  return 0;
}
