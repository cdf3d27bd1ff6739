// See cpu_gemm.hpp. The skinny kernel keeps a 16-row by up-to-12-column block of C in zmm
// registers and streams op(A) columns and broadcast op(B) elements through it; the row tail uses
// masked loads and stores, so no padding is needed and any lda works.
#include "cpu/cpu_gemm.hpp"

#include "cpu/cpu_sparse_gemm.hpp"

#include <cblas.h>

#include <algorithm>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

extern "C" void bli_thread_set_num_threads(long n_threads);

namespace bp {

// Shorter columns of B are activations of a hidden layer, rarely sparse: not worth a look.
constexpr int kMinSparseLength = 256;

void blas_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda,
               const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, A, lda, B, ldb, beta, C, ldc);
}

void set_blas_threads(int threads) { bli_thread_set_num_threads(threads > 0 ? threads : 0); }

namespace {

// op(A) = A^T for tiny shapes (the backward pass through a small output layer): dot products
// over contiguous columns of A, cheaper than a BLAS call's setup.
void small_transposed_gemm(bool trans_b, int m, int n, int k, float alpha, const float* A, int lda,
                           const float* B, int ldb, float beta, float* C, int ldc) {
  constexpr int kRows = 64;  // independent sums, so no add waits on the one before it
  float acc[kRows];
  for (int j = 0; j < n; ++j) {
    for (int i0 = 0; i0 < m; i0 += kRows) {
      const int rows = std::min(kRows, m - i0);
      std::fill(acc, acc + rows, 0.0f);
      for (int p = 0; p < k; ++p) {
        const float b = trans_b ? B[j + size_t(p) * ldb] : B[p + size_t(j) * ldb];
        const float* a = A + p + size_t(i0) * lda;
        for (int i = 0; i < rows; ++i) acc[i] += a[size_t(i) * lda] * b;
      }
      float* c = C + i0 + size_t(j) * ldc;
      for (int i = 0; i < rows; ++i) c[i] = alpha * acc[i] + (beta == 0.0f ? 0.0f : beta * c[i]);
    }
  }
}

}  // namespace

#if defined(__AVX512F__)
namespace {

constexpr int kCols = 12;  // columns of C held in registers: 12 accumulators + A + broadcasts

// C[i0 : i0+rows, j0 : j0+Cols] (rows <= 16) for op(A) = A.
template <int Cols>
void skinny_block(int rows, int i0, int j0, int k, float alpha, const float* A, int lda, const float* B, int ldb,
                  bool trans_b, float beta, float* C, int ldc) {
  const __mmask16 mask = rows >= 16 ? __mmask16(0xffff) : __mmask16((1u << rows) - 1);
  __m512 acc[Cols];
  _Pragma("GCC unroll 16") for (int c = 0; c < Cols; ++c) acc[c] = _mm512_setzero_ps();
  const float* a = A + i0;
  if (trans_b) {  // op(B)(p, j) = B[j + p * ldb]
    for (int p = 0; p < k; ++p, a += lda) {
      const __m512 av = _mm512_maskz_loadu_ps(mask, a);
      const float* b = B + j0 + size_t(p) * ldb;
      _Pragma("GCC unroll 16") for (int c = 0; c < Cols; ++c) acc[c] = _mm512_fmadd_ps(av, _mm512_set1_ps(b[c]), acc[c]);
    }
  } else {  // op(B)(p, j) = B[p + j * ldb]
    for (int p = 0; p < k; ++p, a += lda) {
      const __m512 av = _mm512_maskz_loadu_ps(mask, a);
      _Pragma("GCC unroll 16") for (int c = 0; c < Cols; ++c)
        acc[c] = _mm512_fmadd_ps(av, _mm512_set1_ps(B[p + size_t(j0 + c) * ldb]), acc[c]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  _Pragma("GCC unroll 16") for (int c = 0; c < Cols; ++c) {
    float* out = C + i0 + size_t(j0 + c) * ldc;
    __m512 r = _mm512_mul_ps(va, acc[c]);
    if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, out), r);
    _mm512_mask_storeu_ps(out, mask, r);
  }
}

// Picks the instantiation for a block's column count at run time.
template <int Cols>
void skinny_block_cols(int cols, int rows, int i0, int j0, int k, float alpha, const float* A, int lda,
                       const float* B, int ldb, bool trans_b, float beta, float* C, int ldc) {
  if constexpr (Cols > 0) {
    if (cols == Cols) return skinny_block<Cols>(rows, i0, j0, k, alpha, A, lda, B, ldb, trans_b, beta, C, ldc);
    skinny_block_cols<Cols - 1>(cols, rows, i0, j0, k, alpha, A, lda, B, ldb, trans_b, beta, C, ldc);
  }
}

// C = beta C + alpha A op(B) for k <= 12 and m <= 32: the weight update W += a D X^T at a small
// mini-batch (TransB, called per 32 rows), and W^T d through a small output layer. All of A
// (K columns of up to two row vectors) stays in registers, and each column of C is loaded and
// stored exactly once. J columns go together, their loads before any store:
// their FMA chains then overlap, where one column's chain would wait on the last masked store.
template <bool TransB, int K, int V, int J>
void rank_k_columns(const __m512 (&a)[K][V], const __mmask16 (&mask)[V], int j, const float* B, int ldb, float beta,
                    float* C, int ldc) {
  const __m512 vb = _mm512_set1_ps(beta);
  __m512 acc[J][V];
  _Pragma("GCC unroll 4") for (int c = 0; c < J; ++c) {
    _Pragma("GCC unroll 2") for (int v = 0; v < V; ++v) {
      const float* src = C + 16 * v + size_t(j + c) * ldc;
      // Only the last row vector can be partial: plain loads and stores elsewhere, which the
      // core can reorder more freely than masked ones.
      const __m512 old = v + 1 < V ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps(mask[v], src);
      acc[c][v] = beta == 0.0f ? _mm512_setzero_ps() : beta == 1.0f ? old : _mm512_mul_ps(vb, old);
    }
  }
  _Pragma("GCC unroll 12") for (int p = 0; p < K; ++p) {
    _Pragma("GCC unroll 4") for (int c = 0; c < J; ++c) {
      const __m512 b = _mm512_set1_ps(TransB ? B[j + c + size_t(p) * ldb] : B[p + size_t(j + c) * ldb]);
      _Pragma("GCC unroll 2") for (int v = 0; v < V; ++v) acc[c][v] = _mm512_fmadd_ps(a[p][v], b, acc[c][v]);
    }
  }
  _Pragma("GCC unroll 4") for (int c = 0; c < J; ++c) {
    _Pragma("GCC unroll 2") for (int v = 0; v < V; ++v) {
      float* dst = C + 16 * v + size_t(j + c) * ldc;
      if (v + 1 < V)
        _mm512_storeu_ps(dst, acc[c][v]);
      else
        _mm512_mask_storeu_ps(dst, mask[v], acc[c][v]);
    }
  }
}

template <bool TransB, int K, int V>
void rank_k_update(int m, int n, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C,
                   int ldc) {
  constexpr int J = K * V + 4 * V < 30 ? 4 : 2;  // registers: A, J*V accumulators, a broadcast
  __mmask16 mask[V];
  __m512 a[K][V];
  const __m512 va = _mm512_set1_ps(alpha);
  _Pragma("GCC unroll 2") for (int v = 0; v < V; ++v) {
    const int rows = m - 16 * v;
    mask[v] = rows >= 16 ? __mmask16(0xffff) : __mmask16((1u << rows) - 1);
    _Pragma("GCC unroll 12") for (int p = 0; p < K; ++p)
      a[p][v] = _mm512_mul_ps(va, _mm512_maskz_loadu_ps(mask[v], A + 16 * v + size_t(p) * lda));
  }
  int j = 0;
  for (; j + J <= n; j += J) rank_k_columns<TransB, K, V, J>(a, mask, j, B, ldb, beta, C, ldc);
  for (; j < n; ++j) rank_k_columns<TransB, K, V, 1>(a, mask, j, B, ldb, beta, C, ldc);
}

constexpr int kRankKMax = 12;

// Picks the instantiation for k at run time (k in [1, kRankKMax], m in [1, 32]).
template <bool TransB, int K>
void rank_k_dispatch(int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                     float* C, int ldc) {
  if constexpr (K > 0) {
    if (k != K) return rank_k_dispatch<TransB, K - 1>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    if (m > 16) return rank_k_update<TransB, K, 2>(m, n, alpha, A, lda, B, ldb, beta, C, ldc);
    return rank_k_update<TransB, K, 1>(m, n, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

void skinny_gemm(bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc) {
  for (int j0 = 0; j0 < n; j0 += kCols) {
    const int cols = std::min(kCols, n - j0);
    for (int i0 = 0; i0 < m; i0 += 16)
      skinny_block_cols<kCols>(cols, std::min(16, m - i0), i0, j0, k, alpha, A, lda, B, ldb, trans_b, beta, C, ldc);
  }
}

}  // namespace

void cpu_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda,
              const float* B, int ldb, float beta, float* C, int ldc) {
  if (m <= 0 || n <= 0) return;
  // Products with the input pixels: B's stored columns are long enough to be images.
  if (!trans_a && k > 0 && (trans_b ? n : k) >= kMinSparseLength &&
      sparse_b_gemm(trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))
    return;
  if (!trans_a && trans_b && k >= 1 && k <= kRankKMax) {
    for (int i0 = 0; i0 < m; i0 += 32)  // 32 rows of A at a time in registers
      rank_k_dispatch<true, kRankKMax>(std::min(32, m - i0), n, k, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc);
    return;
  }
  if (trans_a && !trans_b && k <= kRankKMax && m <= 32) {
    // W^T d through a small output layer: A^T (m, k) copied out once, then the same kernel.
    float at[32 * kRankKMax];
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p) at[i + size_t(p) * m] = A[p + size_t(i) * lda];
    return rank_k_dispatch<false, kRankKMax>(m, n, k, alpha, at, m, B, ldb, beta, C, ldc);
  }
  if (!trans_a && k > 0 && (n <= 32 || k <= 32))
    return skinny_gemm(trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  if (trans_a && size_t(m) * n * k <= 65536)
    return small_transposed_gemm(trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  blas_gemm(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* cpu_gemm_description() {
  return "AVX-512 kernels for sparse inputs and skinny shapes, BLIS otherwise";
}

#else

void cpu_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda,
              const float* B, int ldb, float beta, float* C, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (trans_a && size_t(m) * n * k <= 65536)
    return small_transposed_gemm(trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  blas_gemm(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* cpu_gemm_description() { return "BLIS (this build has no AVX-512 kernel)"; }

#endif

}  // namespace bp
