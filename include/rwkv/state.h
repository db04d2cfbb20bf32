// The recurrent state of one sequence: a value the caller owns. Copy it to fork a conversation;
// keep one per request in a server. For RWKV-5/6/7 its size is fixed (per layer: two
// token-shift vectors and one f32 WKV matrix per head); RWKV-7b's DEA attention adds a cache
// that grows with every token fed.
#pragma once

#include <cstdint>
#include <memory>

namespace rwkv {

class State {
 public:
  struct Impl;  // defined by the models layer

  State();
  explicit State(std::unique_ptr<Impl> impl);
  ~State();
  State(const State& other);
  State& operator=(const State& other);
  State(State&&) noexcept;
  State& operator=(State&&) noexcept;

  // Tokens fed since the zero state.
  int64_t tokens_seen() const;
  // Bytes of state memory (grows with the context for RWKV-7b).
  uint64_t memory_bytes() const;

  Impl& impl();
  const Impl& impl() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwkv
