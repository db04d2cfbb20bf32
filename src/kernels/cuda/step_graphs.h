// Recorded one-token steps (CUDA graphs), for Backend::begin_step / end_step / abort_step.
//
// Policy: a step whose key has a recording is replayed; a step whose key was seen before (among
// the last few eager steps) is captured: its first sighting ran op by op and allocated whatever
// the step needs, so the capture is of a settled step; any other step runs op by op. Several
// states decoded in turns thus each get their recording. The token ids are staged
// into a device buffer before the capture or replay starts; the recorded embedding reads them
// from there, so one recording serves every token.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.h"

namespace rwkv::cuda {

class StepGraphs {
 public:
  explicit StepGraphs(cudaStream_t stream);
  ~StepGraphs();
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  Backend::StepMode begin(std::span<const void* const> key, std::span<const int32_t> ids);
  // False when the capture failed (nothing ran; recording is then off for good, with a warning).
  bool end(std::span<const void* const> key_after);
  void abort();
  // "step graphs: R of S one-token steps replayed", or why they are off.
  std::string describe() const;

  bool capturing() const { return capturing_; }
  // While capturing: the device copy of the step's ids when `ids` is the span begin() was given
  // (the only ids a recording may embed), else null.
  const int32_t* staged_ids(std::span<const int32_t> ids) const;
  // Device memory freed while capturing is released once the recorded work has run.
  void defer_free(void* p) { deferred_frees_.push_back(p); }

 private:
  using Key = std::vector<const void*>;
  void release_deferred();
  void drop_all();
  void turn_off(const char* call, cudaError_t e);

  static constexpr size_t kMaxIds = 16;     // tokens a recorded step may have
  static constexpr size_t kMaxGraphs = 8;   // recordings kept (one per state and logits kind in use)

  cudaStream_t stream_;
  int32_t* device_ids_ = nullptr;  // [kMaxIds]
  std::span<const int32_t> host_ids_;
  std::vector<Key> seen_;  // keys of recent eager steps, oldest first (at most kMaxGraphs)
  Key capture_key_;
  bool capturing_ = false;
  std::string off_reason_;  // non-empty: recording failed once and is off
  int64_t steps_ = 0, replayed_ = 0;
  std::vector<std::pair<Key, cudaGraphExec_t>> graphs_;
  std::vector<void*> deferred_frees_;
};

}  // namespace rwkv::cuda
