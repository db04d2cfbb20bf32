#include "models/state_impl.h"

#include "util/error.h"

namespace rwkv {

State::State() = default;
State::State(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
State::~State() = default;
State::State(const State& other) : impl_(other.impl_ ? std::make_unique<Impl>(*other.impl_) : nullptr) {}
State& State::operator=(const State& other) {
  if (this != &other) impl_ = other.impl_ ? std::make_unique<Impl>(*other.impl_) : nullptr;
  return *this;
}
State::State(State&&) noexcept = default;
State& State::operator=(State&&) noexcept = default;

int64_t State::tokens_seen() const { return impl_ ? impl_->tokens_seen : 0; }

uint64_t State::memory_bytes() const {
  if (!impl_) return 0;
  uint64_t n = 0;
  for (const auto& l : impl_->layers)
    n += (l.att_shift.size() + l.ffn_shift.size() + l.wkv.size() + l.dea_q_prev.size() + l.dea_k_prev.size() +
          l.dea_v_prev.size() + l.dea_keys.size() + l.dea_values.size()) *
         sizeof(float);
  return n + impl_->context_ids.size() * sizeof(int32_t);
}

State::Impl& State::impl() {
  if (!impl_) throw Error("this State is empty: create one with Model::new_state()");
  return *impl_;
}
const State::Impl& State::impl() const {
  if (!impl_) throw Error("this State is empty: create one with Model::new_state()");
  return *impl_;
}

}  // namespace rwkv
