#include "kernels/cuda/step_graphs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "kernels/cuda/cuda_check.h"
#include "util/error.h"

namespace rwkv::cuda {

namespace {
bool same(std::span<const void* const> a, const std::vector<const void*>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}
}  // namespace

StepGraphs::StepGraphs(cudaStream_t stream) : stream_(stream) {
  void* ids = nullptr;
  RWKV_CUDA_CHECK(cudaMalloc(&ids, kMaxIds * sizeof(int32_t)));
  device_ids_ = static_cast<int32_t*>(ids);
}

StepGraphs::~StepGraphs() {
  if (capturing_) abort();
  drop_all();
  warn_if_failed(cudaFree(device_ids_), "cudaFree (step ids)");
}

Backend::StepMode StepGraphs::begin(std::span<const void* const> key, std::span<const int32_t> ids) {
  if (capturing_) throw Error("CUDA backend: begin_step while a step is being recorded");
  ++steps_;
  if (!off_reason_.empty() || ids.size() > kMaxIds) return Backend::StepMode::Eager;
  const auto recorded = std::find_if(graphs_.begin(), graphs_.end(), [&](const auto& g) { return same(key, g.first); });
  if (recorded == graphs_.end()) {
    const auto seen = std::find_if(seen_.begin(), seen_.end(), [&](const Key& k) { return same(key, k); });
    if (seen == seen_.end()) {  // first sighting: run it op by op (it may allocate), remember it
      if (seen_.size() >= kMaxGraphs) seen_.erase(seen_.begin());
      seen_.emplace_back(key.begin(), key.end());
      return Backend::StepMode::Eager;
    }
    seen_.erase(seen);  // second sighting: record it (below)
  }
  // Stage the ids where the recording reads them (stream-ordered after the previous step).
  RWKV_CUDA_CHECK(cudaMemcpyAsync(device_ids_, ids.data(), ids.size_bytes(), cudaMemcpyHostToDevice, stream_));
  if (recorded != graphs_.end()) {
    RWKV_CUDA_CHECK(cudaGraphLaunch(recorded->second, stream_));
    ++replayed_;
    return Backend::StepMode::Replayed;
  }
  host_ids_ = ids;
  capture_key_.assign(key.begin(), key.end());
  // Relaxed: the step may still allocate (a first use of a workspace slot); such a step is run
  // but not kept (its key changes).
  const cudaError_t began = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed);
  if (began != cudaSuccess) {
    turn_off("cudaStreamBeginCapture", began);
    return Backend::StepMode::Eager;
  }
  capturing_ = true;
  return Backend::StepMode::Capturing;
}

bool StepGraphs::end(std::span<const void* const> key_after) {
  if (!capturing_) throw Error("CUDA backend: end_step without a step being recorded");
  capturing_ = false;
  host_ids_ = {};
  // A capture that failed recorded nothing that ran: report it, so that the caller runs the step
  // op by op, and record no more (a failure here would repeat on every step).
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
  if (ended != cudaSuccess || !graph) {
    release_deferred();
    turn_off("cudaStreamEndCapture", ended);
    return false;
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
  warn_if_failed(cudaGraphDestroy(graph), "cudaGraphDestroy");
  if (instantiated != cudaSuccess) {
    release_deferred();
    turn_off("cudaGraphInstantiate", instantiated);
    return false;
  }
  // The capture recorded the step without running it: run it now.
  const cudaError_t launched = cudaGraphLaunch(exec, stream_);
  const bool keep = launched == cudaSuccess && same(key_after, capture_key_);
  if (keep) {
    if (graphs_.size() >= kMaxGraphs) drop_all();
    graphs_.emplace_back(capture_key_, exec);
  }
  if (!keep || !deferred_frees_.empty()) {
    warn_if_failed(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (after a recorded step)");
    if (!keep) warn_if_failed(cudaGraphExecDestroy(exec), "cudaGraphExecDestroy");
    release_deferred();
  }
  RWKV_CUDA_CHECK(launched);
  return true;
}

void StepGraphs::turn_off(const char* call, cudaError_t e) {
  (void)cudaGetLastError();  // not a lasting error of the context: clear it
  off_reason_ = fmt::format("{} failed: {}", call, cudaGetErrorString(e));
  std::fprintf(stderr, "warning: CUDA step graphs turned off (%s); steps run op by op\n", off_reason_.c_str());
  drop_all();
}

std::string StepGraphs::describe() const {
  if (!off_reason_.empty()) return "step graphs off (" + off_reason_ + ")";
  return fmt::format("{} of {} one-token steps replayed as CUDA graphs", replayed_, steps_);
}

void StepGraphs::abort() {
  capturing_ = false;
  host_ids_ = {};
  cudaGraph_t graph = nullptr;
  // The capture may already be invalidated by the failure that brought us here.
  const cudaError_t e = cudaStreamEndCapture(stream_, &graph);
  if (e == cudaSuccess && graph) warn_if_failed(cudaGraphDestroy(graph), "cudaGraphDestroy");
  (void)cudaGetLastError();  // clear a sticky launch error of the failed capture, if any
  release_deferred();
}

const int32_t* StepGraphs::staged_ids(std::span<const int32_t> ids) const {
  if (!capturing_ || ids.data() != host_ids_.data() || ids.size() != host_ids_.size()) return nullptr;
  return device_ids_;
}

void StepGraphs::release_deferred() {
  if (deferred_frees_.empty()) return;
  // Work queued before the capture may still read them.
  warn_if_failed(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (before deferred frees)");
  for (void* p : deferred_frees_) warn_if_failed(cudaFree(p), "cudaFree (deferred)");
  deferred_frees_.clear();
}

void StepGraphs::drop_all() {
  if (graphs_.empty()) return;
  warn_if_failed(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (dropping recorded steps)");
  for (auto& g : graphs_) warn_if_failed(cudaGraphExecDestroy(g.second), "cudaGraphExecDestroy");
  graphs_.clear();
}

}  // namespace rwkv::cuda
