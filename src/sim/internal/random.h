// Deterministic random numbers for the simulator: the same draws for a seed
// on every platform (std:: distributions and libm's log differ between
// standard libraries, which would break byte-identical outputs).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

// No fused multiply-add: it rounds differently from a multiply then an add.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace straits::sim::internal {

constexpr double kLn2 = 0.6931471805599453;
// ln 2 split so that n x kLn2Hi is exact for |n| < 2^11 (Cody and Waite).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kSqrt1_2 = 0.7071067811865476;
constexpr double kSqrt2Pi = 2.5066282746310002;

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

// xoshiro256** (Blackman and Vigna), seeded by splitmix64 as its authors
// advise. One stream per aspect of a job (arrivals, sizes, ...), so that
// changing one option, e.g. the chips, leaves the other aspects as they were.
class Random {
 public:
  Random(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t state = seed ^ (0xD1B54A32D192ED03ULL * (stream + 1));
    for (auto& word : s_) word = splitmix64(state);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // [0, 1) from the top 53 bits: every value is a multiple of 2^-53.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // (0, 1): safe to take the logarithm of.
  double open_uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  // An integer in [0, n), without modulo bias. REQUIRES: n > 0.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (true) {
      std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

 private:
  std::array<std::uint64_t, 4> s_{};
};

// Natural logarithm to about 1e-16 relative: x = m 2^e with m in
// [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172.
inline double det_log(double x) {
  if (!(x > 0))
    return x == 0 ? -std::numeric_limits<double>::infinity()
                  : std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(x)) return x;
  int e = 0;
  double m = std::frexp(x, &e);  // exact: m in [0.5, 1)
  if (m < kSqrt1_2) {
    m *= 2;
    --e;
  }
  const double s = (m - 1) / (m + 1);
  const double s2 = s * s;
  // 2 (s + s^3/3 + ... + s^23/23): the next term is below 1e-19.
  double sum = 0;
  for (int k = 23; k >= 3; k -= 2) sum = (sum + 1.0 / k) * s2;
  return 2 * s * (1 + sum) + e * kLn2;
}

// An exponentially distributed draw with the given mean.
inline double exponential_with_mean(Random& random, double mean) {
  return -mean * det_log(random.open_uniform());
}

}  // namespace straits::sim::internal
