// Fuzzes the whole .pth path: ZIP directory and local headers, data.pkl, tensor resolution.
#include "fuzz_util.h"
#include "io/readers.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rwkv::fuzz::touch(rwkv::read_pth(rwkv::fuzz::as_file(data, size, "fuzz.pth")));
  } catch (const rwkv::Error&) {
  }
  return 0;
}
