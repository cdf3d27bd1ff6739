// The AVX-512 vector operations the templated kernels (cpu_dense_kernels.hpp,
// cpu_sparse_gemm.hpp) are written in: 16 floats a vector, masks in k registers. Included only by
// cpu_kernels_avx512.cpp, which is compiled with the AVX-512 flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace bp::simd {
namespace {

struct Avx512 {
  static constexpr const char* kName = "avx512";
  static constexpr int kWidth = 16;
  static constexpr int kRegisters = 32;
  using Vec = __m512;
  using Mask = __mmask16;

  // The first `rows` lanes (none if rows <= 0, all if rows >= 16).
  static Mask mask(int rows) { return rows >= 16 ? Mask(0xffff) : rows <= 0 ? Mask(0) : Mask((1u << rows) - 1); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }  // zeros elsewhere
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Mask m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
  static Vec div(Vec a, Vec b) { return _mm512_div_ps(a, b); }
  // min(hi, max(lo, x)), in that operand order so that a NaN x comes through.
  static Vec clamp(Vec x, float lo, float hi) {
    return _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x));
  }
  static Vec round(Vec x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Vec scale_by_power_of_two(Vec p, Vec n) { return _mm512_scalef_ps(p, n); }  // p * 2^n

  // Bit i set where x[i] != 0, for i < min(valid, 16); x is read only there.
  static unsigned nonzero_bits(const float* x, int valid) {
    const Mask m = mask(valid);
    return _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x), _mm512_setzero_ps(), _CMP_NEQ_UQ);
  }
  // Writes base + i for each set bit i, in order, at out (16 slots are written, so out needs that
  // much room), and returns the end of the list. Compress into a register and a plain store:
  // _mm512_mask_compressstoreu_epi32 (compress to memory) is microcoded on AMD Zen 4, ~15x slower.
  static int32_t* append_indices(unsigned bits, int base, int32_t* out) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i index = _mm512_add_epi32(lane, _mm512_set1_epi32(base));
    _mm512_storeu_si512(out, _mm512_maskz_compress_epi32(__mmask16(bits), index));
    return out + __builtin_popcount(bits);
  }
  // Writes x[i] for each set bit i, in order, at out (16 slots are written); x is read only
  // where the bit is set.
  static void append_values(unsigned bits, const float* x, float* out) {
    _mm512_storeu_ps(out, _mm512_maskz_compress_ps(__mmask16(bits), _mm512_maskz_loadu_ps(__mmask16(bits), x)));
  }
  // The nonzero bytes among p[0 .. min(valid, kByteBlock)): their positions base + i at index
  // and their values times `scale` at value (up to 64 slots of each are written); returns how
  // many there are. Each 16-byte quarter is compressed into a register and stored whole; the
  // quarters' offsets come from one 64-bit mask, so no quarter waits on the one before.
  // 16 positions and bytes widened to ints and floats times scale.
  static void widen(const uint16_t* index, const uint8_t* value, float scale, int32_t* index_out, float* value_out) {
    _mm512_storeu_si512(index_out, _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(index))));
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(value)));
    _mm512_storeu_ps(value_out, _mm512_mul_ps(_mm512_cvtepi32_ps(bytes), _mm512_set1_ps(scale)));
  }
  static constexpr int kByteBlock = 64;
  static int append_nonzero_bytes(const uint8_t* p, int valid, int base, float scale, int32_t* index, float* value) {
    const __mmask64 lanes = valid >= 64 ? ~__mmask64(0) : (__mmask64(1) << valid) - 1;
    const __m512i bytes = _mm512_maskz_loadu_epi8(lanes, p);
    const uint64_t nonzero = _mm512_test_epi8_mask(bytes, bytes);
    if (nonzero == 0) return 0;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 vscale = _mm512_set1_ps(scale);
    int at = 0;
    _Pragma("GCC unroll 4") for (int q = 0; q < 4; ++q) {
      const __mmask16 bits = __mmask16(nonzero >> (16 * q));
      const __m128i quarter = q == 0   ? _mm512_castsi512_si128(bytes)
                              : q == 1 ? _mm512_extracti32x4_epi32(bytes, 1)
                              : q == 2 ? _mm512_extracti32x4_epi32(bytes, 2)
                                       : _mm512_extracti32x4_epi32(bytes, 3);
      const __m512i where = _mm512_add_epi32(lane, _mm512_set1_epi32(base + 16 * q));
      _mm512_storeu_si512(index + at, _mm512_maskz_compress_epi32(bits, where));
      const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(quarter)), vscale);
      _mm512_storeu_ps(value + at, _mm512_maskz_compress_ps(bits, v));
      at += __builtin_popcount(bits);
    }
    return at;
  }
};

}  // namespace
}  // namespace bp::simd
