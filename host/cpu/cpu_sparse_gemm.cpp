// See cpu_sparse_gemm.hpp. AVX-512 only (without it sparse_b_gemm always declines). For each
// column j of B (a sample), the columns of A at its nonzero rows (pixels) are summed, 64 rows of C
// at a time (up to four zmm registers, masked at the tail) in two independent chains that hide
// the FMA latency. The transposed product W += a D X^T gains nothing from sparsity here: with a
// mini-batch of 10 most pixels are nonzero in some sample, and cpu_gemm's rank-k kernel already
// touches each column of W once.
#include "cpu/cpu_sparse_gemm.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace bp {

#if defined(__AVX512F__)
namespace {

constexpr int kRowsPerPass = 64;

__mmask16 row_mask(int rows) {
  return rows >= 16 ? __mmask16(0xffff) : rows <= 0 ? __mmask16(0) : __mmask16((1u << rows) - 1);
}

__mmask16 nonzero_mask(const float* x, int len, int i) {
  const __mmask16 valid = row_mask(len - i);
  return _mm512_mask_cmp_ps_mask(valid, _mm512_maskz_loadu_ps(valid, x + i), _mm512_setzero_ps(), _CMP_NEQ_UQ);
}

// Rows [0, 16 V) of C (fewer at the tail) for every column j: V is a compile-time count so that
// the accumulators live in registers.
template <int V>
void plain_pass(int m, int n, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C,
                int ldc, const std::vector<int>& rows, const std::vector<size_t>& starts) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  __mmask16 mask[V];
  _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) mask[v] = row_mask(m - 16 * v);
  for (int j = 0; j < n; ++j) {
    const float* b = B + size_t(j) * ldb;
    __m512 acc0[V], acc1[V];  // two chains hide the FMA latency
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) acc0[v] = acc1[v] = _mm512_setzero_ps();
    const int* r = rows.data() + starts[j];
    const size_t count = starts[j + 1] - starts[j];
    size_t q = 0;
    for (; q + 1 < count; q += 2) {
      const __m512 b0 = _mm512_set1_ps(b[r[q]]), b1 = _mm512_set1_ps(b[r[q + 1]]);
      const float* a0 = A + size_t(r[q]) * lda;
      const float* a1 = A + size_t(r[q + 1]) * lda;
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
        acc0[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask[v], a0 + 16 * v), b0, acc0[v]);
        acc1[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask[v], a1 + 16 * v), b1, acc1[v]);
      }
    }
    if (q < count) {
      const __m512 b0 = _mm512_set1_ps(b[r[q]]);
      const float* a0 = A + size_t(r[q]) * lda;
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v)
        acc0[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask[v], a0 + 16 * v), b0, acc0[v]);
    }
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
      float* c = C + 16 * v + size_t(j) * ldc;
      __m512 out = _mm512_mul_ps(va, _mm512_add_ps(acc0[v], acc1[v]));
      if (beta != 0.0f) out = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], c), out);
      _mm512_mask_storeu_ps(c, mask[v], out);
    }
  }
}

// Z = W X: each column of B compacted to its nonzero rows, then summed over.
bool gemm_b_plain(int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                  float* C, int ldc) {
  thread_local std::vector<int> rows;
  thread_local std::vector<size_t> starts;
  rows.resize(size_t(k) * n + 16);
  starts.assign(size_t(n) + 1, 0);
  const size_t budget = size_t(kMaxDensity * double(k) * n);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  size_t total = 0;
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < k; i += 16) {
      const __mmask16 nz = nonzero_mask(B + size_t(j) * ldb, k, i);
      _mm512_mask_compressstoreu_epi32(rows.data() + total, nz, _mm512_add_epi32(lane, _mm512_set1_epi32(i)));
      total += size_t(__builtin_popcount(nz));
    }
    if (total > budget) return false;
    starts[j + 1] = total;
  }
  for (int i0 = 0; i0 < m; i0 += kRowsPerPass) {
    switch ((std::min(kRowsPerPass, m - i0) + 15) / 16) {
      case 1: plain_pass<1>(m - i0, n, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc, rows, starts); break;
      case 2: plain_pass<2>(m - i0, n, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc, rows, starts); break;
      case 3: plain_pass<3>(m - i0, n, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc, rows, starts); break;
      default: plain_pass<4>(m - i0, n, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc, rows, starts); break;
    }
  }
  return true;
}

}  // namespace

bool sparse_b_gemm(bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
                   float beta, float* C, int ldc) {
  if (trans_b) return false;
  return gemm_b_plain(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

#else

bool sparse_b_gemm(bool, int, int, int, float, const float*, int, const float*, int, float, float*, int) { return false; }

#endif

}  // namespace bp
