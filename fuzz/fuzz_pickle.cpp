// Fuzzes the restricted unpickler directly (data.pkl contents).
#include "fuzz_util.h"
#include "io/pickle.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto u =
        rwkv::pickle::unpickle(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz.pkl");
    (void)u.root().kind;
  } catch (const rwkv::Error&) {
  }
  return 0;
}
