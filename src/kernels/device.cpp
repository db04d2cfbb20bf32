#include "kernels/device.h"

#include <charconv>
#include <string>

#include "util/error.h"

#ifdef RWKV_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace rwkv {

bool build_has_cuda() {
#ifdef RWKV_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef RWKV_CUDA
  return cuda::visible_device_count();
#else
  return 0;
#endif
}

DeviceChoice resolve_device(std::string_view device) {
  if (device == "cpu") return {DeviceChoice::Cpu, 0};
  if (device.empty() || device == "auto")
    return cuda_device_count() > 0 ? DeviceChoice{DeviceChoice::Cuda, 0} : DeviceChoice{DeviceChoice::Cpu, 0};
  if (device == "cuda") return {DeviceChoice::Cuda, 0};
  if (device.starts_with("cuda:")) {
    const std::string_view digits = device.substr(5);
    int index = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() && index >= 0)
      return {DeviceChoice::Cuda, index};
  }
  throw UsageError("unknown device '{}': use cpu, cuda, cuda:N or auto", device);
}

std::unique_ptr<Backend> make_cuda_backend_for(int index, bool fast_activations) {
#ifdef RWKV_CUDA
  return cuda::make_cuda_backend({index, fast_activations});
#else
  (void)index;
  (void)fast_activations;
  throw Error("this build has no CUDA backend; rebuild with -DRWKV_CUDA=ON");
#endif
}

}  // namespace rwkv
