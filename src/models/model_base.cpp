#include "models/model_base.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/profiling_backend.h"
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

namespace {
// The CPU backend; wrapped in the profiler when RWKV_PROFILE=1 (a per-operation time table on
// stderr when the model is destroyed).
std::unique_ptr<Backend> make_backend(const ModelOptions& options) {
  auto b = make_cpu_backend({options.threads, std::nullopt, options.fast_activations, options.huge_pages});
  const char* profile = std::getenv("RWKV_PROFILE");
  if (profile && std::string_view(profile) == "1") b = make_profiling_backend(std::move(b));
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
    // Embedding, then ln0 (the official code folds ln0 into the table at load; applying it to
    // the gathered rows in f32 is the same and keeps the table mapped as stored).
    Mat x = ws_.get(kSlotX, n, hp_.n_embd);
    ops_.embedding(embed_.emb, ids, x);
    ops_.layer_norm(x, x, embed_.ln0_g, embed_.ln0_b, kLayerNormEps);
    forward_layers(ids, x, s);
    s.tokens_seen += n;

    if (which == Logits::All) {
      Mat logits = ws_.get(kSlotLogits, n, V);
      head(x, logits);
      ops_.download(out + start * V, logits.data, static_cast<size_t>(n * V));
    } else if (which == Logits::Last && start + n == T) {
      Mat last{x.row(n - 1), 1, hp_.n_embd};
      Mat logits = ws_.get(kSlotLogits, 1, V);
      head(last, logits);
      ops_.download(out, logits.data, static_cast<size_t>(V));
    }
  }
}

}  // namespace rwkv
