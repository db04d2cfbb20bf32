#include "models/model_base.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/device.h"
#include "kernels/profiling_backend.h"
#include "kernels/replay_backend.h"
#include "util/error.h"

namespace rwkv {


Mat Workspace::get(int slot, int64_t T, int64_t cols) {
  if (T > rows_) throw Error("workspace: {} rows requested, {} allocated", T, rows_);
  if (slot >= static_cast<int>(buffers_.size())) buffers_.resize(static_cast<size_t>(slot) + 1);
  Buffer& b = buffers_[static_cast<size_t>(slot)];
  const size_t need = static_cast<size_t>(T * cols);  // buffers grow to the largest chunk seen
  if (b.size() < need) b = Buffer(backend_, need);
  return {b.data(), T, cols};
}

void Workspace::append_addresses(std::vector<const void*>& out) const {
  for (const Buffer& b : buffers_) out.push_back(b.data());
}

namespace {
bool env_is_1(const char* name) {
  const char* v = std::getenv(name);
  return v && std::string_view(v) == "1";
}

// The backend named by options.device (kernels/device.h); one-token steps recorded and replayed
// on the host when RWKV_REPLAY_STEPS=1 (kernels/replay_backend.h: a check that steps are
// replayable, as CUDA graphs need); wrapped in the profiler when RWKV_PROFILE=1 (a per-operation
// time table on stderr when the model is destroyed).
std::unique_ptr<Backend> make_backend(const ModelOptions& options) {
  std::unique_ptr<Backend> b;
  const DeviceChoice device = resolve_device(options.device);
  if (device.kind == DeviceChoice::Cuda)
    b = make_cuda_backend_for(device.index, options.fast_activations);
  else
    b = make_cpu_backend({options.threads, std::nullopt, options.fast_activations, options.huge_pages});
  if (env_is_1("RWKV_REPLAY_STEPS")) b = make_replay_backend(std::move(b));
  if (env_is_1("RWKV_PROFILE")) b = make_profiling_backend(std::move(b));
  return b;
}
}  // namespace

void EmbeddingAndHead::bind(WeightBinder& w, const HParams& hp) {
  emb = w.table("emb.weight", hp.vocab, hp.n_embd);
  ln0_g = w.vector("blocks.0.ln0.weight", hp.n_embd);
  ln0_b = w.vector("blocks.0.ln0.bias", hp.n_embd);
  ln_out_g = w.vector("ln_out.weight", hp.n_embd);
  ln_out_b = w.vector("ln_out.bias", hp.n_embd);
  head = w.linear("head.weight", hp.vocab, hp.n_embd);
}

ModelBase::ModelBase(TensorMap tensors, const HParams& hp, const ModelOptions& options)
    : hp_(hp),
      options_(options),
      tensors_(std::move(tensors)),
      backend_(make_backend(options)),
      ops_(*backend_),
      weights_(tensors_, *backend_, options.dtype) {
  if (options_.chunk_size < 1) throw UsageError("chunk size must be at least 1, got {}", options_.chunk_size);
  ws_ = Workspace(backend_.get(), options_.chunk_size);
  embed_.bind(weights_, hp_);
}

std::string ModelBase::describe() const {
  return fmt::format("{} {} layers x {} ({} heads of {}), vocab {}, ffn {}, weights {}, {}", arch_name(hp_.arch),
                     hp_.n_layer, hp_.n_embd, hp_.n_head, hp_.head_size, hp_.vocab, hp_.dim_ffn,
                     weights_.matrix_dtypes(), ops_.name());
}

std::unique_ptr<State::Impl> ModelBase::zero_state() const {
  auto s = std::make_unique<State::Impl>();
  s->model = this;
  s->backend = backend_.get();
  s->layers.resize(static_cast<size_t>(hp_.n_layer));
  for (auto& l : s->layers) {
    l.att_shift = Buffer(backend_.get(), static_cast<size_t>(hp_.n_embd));
    l.ffn_shift = Buffer(backend_.get(), static_cast<size_t>(hp_.n_embd));
    l.wkv = Buffer(backend_.get(), static_cast<size_t>(hp_.n_head * hp_.head_size * hp_.head_size));
  }
  return s;
}

void ModelBase::head(const Mat& x, const Mat& out) {
  Mat xn = ws_.get(kSlotHeadIn, x.rows, hp_.n_embd);
  ops_.layer_norm(x, xn, embed_.ln_out_g, embed_.ln_out_b, kLayerNormEps);
  ops_.matmul(embed_.head, xn, out);
}

Mat ModelBase::forward_chunk(std::span<const int32_t> ids, State::Impl& s, Logits which) {
  const int64_t n = static_cast<int64_t>(ids.size());
  // Embedding, then ln0 (the official code folds ln0 into the table at load; applying it to
  // the gathered rows in f32 is the same and keeps the table mapped as stored).
  Mat x = ws_.get(kSlotX, n, hp_.n_embd);
  ops_.embedding(embed_.emb, ids, x);
  ops_.layer_norm(x, x, embed_.ln0_g, embed_.ln0_b, kLayerNormEps);
  forward_layers(ids, x, s);
  if (which == Logits::All) {
    Mat logits = ws_.get(kSlotLogits, n, hp_.vocab);
    head(x, logits);
    return logits;
  }
  if (which == Logits::Last) {
    Mat logits = ws_.get(kSlotLogits, 1, hp_.vocab);
    head(Mat{x.row(n - 1), 1, hp_.n_embd}, logits);
    return logits;
  }
  return {};
}

std::vector<const void*> ModelBase::step_key(const State::Impl& s, Logits which) const {
  std::vector<const void*> key;
  key.push_back(reinterpret_cast<const void*>(static_cast<uintptr_t>(which)));
  for (const LayerState& l : s.layers)
    for (const Buffer* b : {&l.att_shift, &l.ffn_shift, &l.wkv, &l.dea_q_prev, &l.dea_k_prev, &l.dea_v_prev,
                            &l.dea_keys, &l.dea_values})
      key.push_back(b->data());
  ws_.append_addresses(key);
  return key;
}

void ModelBase::forward(std::span<const int32_t> tokens, State& state, Logits which, float* out) {
  State::Impl& s = state.impl();
  if (s.model != this) throw Error("this State was made by another model; use Model::new_state()");
  if (which != Logits::None && !out) throw Error("forward: no output buffer for the logits");
  // Check every id before touching the state, so a bad id leaves it unchanged.
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= hp_.vocab)
      throw Error("token id {} (position {}) is outside the vocabulary [0, {})", tokens[i], i, hp_.vocab);

  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t V = hp_.vocab;
  for (int64_t start = 0; start < T; start += ws_.rows()) {
    const int64_t n = std::min(ws_.rows(), T - start);
    const auto ids = tokens.subspan(static_cast<size_t>(start), static_cast<size_t>(n));
    // The logits this chunk produces: all rows, the last row of the last chunk, or none.
    const Logits chunk_logits =
        which == Logits::All ? Logits::All : (which == Logits::Last && start + n == T ? Logits::Last : Logits::None);

    Mat logits;
    if (n == 1 && options_.step_graphs && ops_.records_steps() && step_is_replayable()) {
      // A one-token step: the backend may replay a recording of it (Backend::begin_step).
      const Backend::StepMode mode = ops_.begin_step(step_key(s, chunk_logits), ids);
      if (mode == Backend::StepMode::Replayed) {
        if (chunk_logits != Logits::None) logits = ws_.get(kSlotLogits, 1, V);  // where the recording left them
      } else {
        try {
          logits = forward_chunk(ids, s, chunk_logits);
        } catch (...) {
          if (mode == Backend::StepMode::Capturing) ops_.abort_step();
          throw;
        }
        // A recording that failed ran nothing: run the step again, op by op.
        if (mode == Backend::StepMode::Capturing && !ops_.end_step(step_key(s, chunk_logits)))
          logits = forward_chunk(ids, s, chunk_logits);
      }
    } else {
      logits = forward_chunk(ids, s, chunk_logits);
    }
    s.tokens_seen += n;

    if (chunk_logits == Logits::All) ops_.download(out + start * V, logits.data, static_cast<size_t>(n * V));
    else if (chunk_logits == Logits::Last) ops_.download(out, logits.data, static_cast<size_t>(V));
  }
}

}  // namespace rwkv
