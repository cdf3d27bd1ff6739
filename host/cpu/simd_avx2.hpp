// The AVX2+FMA vector operations the templated kernels (cpu_dense_kernels.hpp,
// cpu_sparse_gemm.hpp) are written in: 8 floats a vector, masks as integer vectors. Included only
// by cpu_kernels_avx2.cpp, which is compiled with the AVX2 flags (and without AVX-512).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace bp::simd {
namespace {

// kLanes[bits] lists the set bits of an 8-bit mask in order: AVX2 has no compress instruction.
struct LaneTable {
  uint8_t lanes[256][8];
  constexpr LaneTable() : lanes() {
    for (int bits = 0; bits < 256; ++bits) {
      int n = 0;
      for (int i = 0; i < 8; ++i)
        if (bits & (1 << i)) lanes[bits][n++] = uint8_t(i);
    }
  }
};
constexpr LaneTable kLanes;

struct Avx2 {
  static constexpr const char* kName = "avx2";
  static constexpr int kWidth = 8;
  static constexpr int kRegisters = 16;
  using Vec = __m256;
  using Mask = __m256i;

  static Mask mask(int rows) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }  // zeros elsewhere
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, Mask m, Vec v) { _mm256_maskstore_ps(p, m, v); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
  // min(hi, max(lo, x)), in that operand order so that a NaN x comes through.
  static Vec clamp(Vec x, float lo, float hi) {
    return _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), x));
  }
  static Vec round(Vec x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // p * 2^n for integral n in [-126, 127]: 2^n built in the exponent field.
  static Vec scale_by_power_of_two(Vec p, Vec n) {
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  }

  // Bit i set where x[i] != 0, for i < min(valid, 8); x is read only there.
  static unsigned nonzero_bits(const float* x, int valid) {
    const __m256 v = valid >= 8 ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, mask(valid));
    return unsigned(_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ)));
  }
  // Writes base + i for each set bit i, in order, at out (8 slots are written), and returns the
  // end of the list.
  static int32_t* append_indices(unsigned bits, int base, int32_t* out) {
    const __m128i lanes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kLanes.lanes[bits]));
    const __m256i index = _mm256_add_epi32(_mm256_cvtepu8_epi32(lanes), _mm256_set1_epi32(base));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), index);
    return out + __builtin_popcount(bits);
  }
  // Writes x[i] for each set bit i, in order, at out (8 slots are written); x is read only
  // where the bit is set.
  static void append_values(unsigned bits, const float* x, float* out) {
    const __m256i lanes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(kLanes.lanes[bits])));
    const __m256 v = _mm256_maskload_ps(x, bit_mask(bits));
    _mm256_storeu_ps(out, _mm256_permutevar8x32_ps(v, lanes));
  }
  // The nonzero bytes among p[0 .. min(valid, 8)): their positions base + i at index and their
  // values times `scale` at value (8 slots of each are written); returns how many there are.
  // 8 positions and bytes widened to ints and floats times scale.
  static void widen(const uint16_t* index, const uint8_t* value, float scale, int32_t* index_out, float* value_out) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(index_out),
                        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(index))));
    const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(value)));
    _mm256_storeu_ps(value_out, _mm256_mul_ps(_mm256_cvtepi32_ps(bytes), _mm256_set1_ps(scale)));
  }
  static constexpr int kByteBlock = 8;
  static int append_nonzero_bytes(const uint8_t* p, int valid, int base, float scale, int32_t* index, float* value) {
    unsigned long long raw = 0;
    if (valid >= 8)
      __builtin_memcpy(&raw, p, 8);
    else
      for (int i = 0; i < valid; ++i) raw |= (unsigned long long)p[i] << (8 * i);
    const __m256i ints = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)raw));
    const unsigned bits =
        unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(ints, _mm256_setzero_si256()))));
    const __m256i lanes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(kLanes.lanes[bits])));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(index), _mm256_add_epi32(lanes, _mm256_set1_epi32(base)));
    const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(ints), _mm256_set1_ps(scale));
    _mm256_storeu_ps(value, _mm256_permutevar8x32_ps(v, lanes));
    return __builtin_popcount(bits);
  }

 private:
  // Lane i all ones where bit i of bits is set.
  static __m256i bit_mask(unsigned bits) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits)), bit), bit);
  }
};

}  // namespace
}  // namespace bp::simd
