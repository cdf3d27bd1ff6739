// Flush denormals to zero while a CPU backend computes: as training settles, deltas through
// saturated sigmoids underflow, and denormal arithmetic would slow late epochs down twofold.
// Every CPU backend computes under it, so that they all give the same floats.
#pragma once

#include <xmmintrin.h>

namespace bp {

class FlushDenormals {
 public:
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }  // FTZ | DAZ
  ~FlushDenormals() { _mm_setcsr(saved_); }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_;
};

}  // namespace bp
