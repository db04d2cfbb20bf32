// The sampler's random generator: xoshiro256** seeded through splitmix64, both the public-domain
// reference algorithms of Blackman and Vigna (https://prng.di.unimi.it/). Chosen because their
// output is fixed by their definition: unlike std::uniform_real_distribution (whose mapping from
// bits to doubles is implementation-defined), the same seed gives the same numbers with every
// compiler and CPU.
#pragma once

#include <array>
#include <cstdint>

namespace rwkv::sampling {

// splitmix64: one 64-bit state, advanced by a constant; used to expand a seed into a state.
inline uint64_t splitmix64_next(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Xoshiro256ss {
 public:
  // The state is four successive splitmix64 outputs of `seed`, as the authors recommend (it is
  // never all zero).
  explicit Xoshiro256ss(uint64_t seed) {
    for (auto& s : s_) s = splitmix64_next(seed);
  }
  // For tests against the reference vectors.
  explicit Xoshiro256ss(const std::array<uint64_t, 4>& state) : s_(state) {}

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1): the top 53 bits as a multiple of 2^-53 (exact, every value equally likely).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_;
};

}  // namespace rwkv::sampling
