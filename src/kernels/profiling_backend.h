// A Backend that forwards every call to another and times it: where a forward pass spends its
// time, per operation (and per matrix shape for matmul), printed when it is destroyed. Turned on
// with RWKV_PROFILE=1; it changes nothing else.
#pragma once

#include <memory>

#include "kernels/backend.h"

namespace rwkv {

std::unique_ptr<Backend> make_profiling_backend(std::unique_ptr<Backend> inner);

}  // namespace rwkv
