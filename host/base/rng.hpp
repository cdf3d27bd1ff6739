// The seeded generator behind initial weights and epoch shuffles: xoshiro256** seeded through
// splitmix64, normals by the Marsaglia polar method. Written out here (not <random>'s
// distributions, whose output is implementation-defined) so every platform and backend draws the
// same numbers for the same seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bp {

class Rng {
 public:
  // `stream` separates independent uses of one seed (initialisation, each epoch's shuffle).
  explicit Rng(uint64_t seed, uint64_t stream = 0);
  uint64_t next();
  double uniform();            // [0, 1), 53 random bits
  double normal();             // N(0, 1)
  uint64_t below(uint64_t n);  // uniform in [0, n), unbiased; n >= 1

 private:
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

// The order in which epoch `epoch` visits n training samples: a Fisher-Yates shuffle from its own
// stream, so epoch e's order depends only on (seed, e) and a resumed run repeats it exactly.
std::vector<uint32_t> epoch_permutation(uint64_t seed, uint64_t epoch, size_t n);

}  // namespace bp
