// Shared by the CUDA tests: whether a GPU is there to run them on.
#pragma once

#include <gtest/gtest.h>

#include "kernels/device.h"

// Skips the current test, with the reason, when this process sees no CUDA device.
#define RWKV_SKIP_WITHOUT_CUDA_DEVICE()                                                              \
  do {                                                                                               \
    if (::rwkv::cuda_device_count() == 0)                                                            \
      GTEST_SKIP() << "no CUDA device visible (cudaGetDeviceCount reports none): CUDA test skipped"; \
  } while (0)
