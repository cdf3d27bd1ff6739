// The register-blocked GEMM kernels for skinny shapes, written once over a vector ISA `I`
// (simd_avx512.hpp, simd_avx2.hpp) and compiled once per ISA by cpu_kernels_<isa>.cpp. Same
// arguments as cpu_gemm (column-major, cuBLAS's conventions). Nothing here may use the standard
// library's templates: their out-of-line copies would carry this file's instruction set into
// code the linker may pick for every caller.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bp::simd {
namespace {

inline int imin(int a, int b) { return a < b ? a : b; }

constexpr int kCols = 12;       // skinny kernel: columns of C held in registers
constexpr int kRankKMax = 12;   // rank-k kernel: largest k (mini-batch) it keeps in registers
constexpr int kRankKRows = 32;  // rank-k kernel: rows of C per pass

// C[i0 : i0+rows, j0 : j0+Cols] (rows <= width) for op(A) = A: a block of C in registers,
// op(A) columns streamed through it against broadcast elements of op(B).
template <class I, int Cols>
void skinny_block(int rows, int i0, int j0, int k, float alpha, const float* A, int lda, const float* B, int ldb,
                  bool trans_b, float beta, float* C, int ldc) {
  const typename I::Mask mask = I::mask(rows);
  typename I::Vec acc[Cols];
  _Pragma("GCC unroll 16") for (int c = 0; c < Cols; ++c) acc[c] = I::zero();
  const float* a = A + i0;
  if (trans_b) {  // op(B)(p, j) = B[j + p * ldb]
    for (int p = 0; p < k; ++p, a += lda) {
      const auto av = I::load(mask, a);
      const float* b = B + j0 + size_t(p) * ldb;
      _Pragma("GCC unroll 16") for (int c = 0; c < Cols; ++c) acc[c] = I::fmadd(av, I::set1(b[c]), acc[c]);
    }
  } else {  // op(B)(p, j) = B[p + j * ldb]
    for (int p = 0; p < k; ++p, a += lda) {
      const auto av = I::load(mask, a);
      _Pragma("GCC unroll 16") for (int c = 0; c < Cols; ++c) acc[c] =
          I::fmadd(av, I::set1(B[p + size_t(j0 + c) * ldb]), acc[c]);
    }
  }
  const auto va = I::set1(alpha), vb = I::set1(beta);
  _Pragma("GCC unroll 16") for (int c = 0; c < Cols; ++c) {
    float* out = C + i0 + size_t(j0 + c) * ldc;
    auto r = I::mul(va, acc[c]);
    if (beta != 0.0f) r = I::fmadd(vb, I::load(mask, out), r);
    I::store(out, mask, r);
  }
}

// Picks the instantiation for a block's column count at run time.
template <class I, int Cols>
void skinny_block_cols(int cols, int rows, int i0, int j0, int k, float alpha, const float* A, int lda, const float* B,
                       int ldb, bool trans_b, float beta, float* C, int ldc) {
  if constexpr (Cols > 0) {
    if (cols == Cols) return skinny_block<I, Cols>(rows, i0, j0, k, alpha, A, lda, B, ldb, trans_b, beta, C, ldc);
    skinny_block_cols<I, Cols - 1>(cols, rows, i0, j0, k, alpha, A, lda, B, ldb, trans_b, beta, C, ldc);
  }
}

template <class I>
void skinny_gemm(bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc) {
  for (int j0 = 0; j0 < n; j0 += kCols) {
    const int cols = imin(kCols, n - j0);
    for (int i0 = 0; i0 < m; i0 += I::kWidth)
      skinny_block_cols<I, kCols>(cols, imin(I::kWidth, m - i0), i0, j0, k, alpha, A, lda, B, ldb, trans_b, beta, C,
                                  ldc);
  }
}

// C = beta C + alpha A op(B) for k <= 12 and m <= 32: the weight update W += a D X^T at a small
// mini-batch (TransB), and W^T d through a small output layer. A (K columns of V row vectors) is
// loaded once (into registers where the ISA has enough), and each column of C is loaded and
// stored exactly once. J columns go together, their loads before any store: their FMA chains
// then overlap, where one column's chain would wait on the last masked store. Columns are j, j+1,
// ... or, where `cols` is given, cols[0], cols[1], ...
template <class I, bool TransB, int K, int V, int J>
void rank_k_columns(const typename I::Vec (&a)[K][V], const typename I::Mask (&mask)[V], int j, const int32_t* cols,
                    const float* B, int ldb, float beta, float* C, int ldc) {
  const auto vb = I::set1(beta);
  int col[J];
  _Pragma("GCC unroll 4") for (int c = 0; c < J; ++c) col[c] = cols ? cols[c] : j + c;
  typename I::Vec acc[J][V];
  _Pragma("GCC unroll 4") for (int c = 0; c < J; ++c) {
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
      const float* src = C + I::kWidth * v + size_t(col[c]) * ldc;
      // Only the last row vector can be partial: plain loads and stores elsewhere, which the
      // core can reorder more freely than masked ones.
      const auto old = v + 1 < V ? I::load(src) : I::load(mask[v], src);
      acc[c][v] = beta == 0.0f ? I::zero() : beta == 1.0f ? old : I::mul(vb, old);
    }
  }
  _Pragma("GCC unroll 12") for (int p = 0; p < K; ++p) {
    _Pragma("GCC unroll 4") for (int c = 0; c < J; ++c) {
      const auto b = I::set1(TransB ? B[col[c] + size_t(p) * ldb] : B[p + size_t(col[c]) * ldb]);
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) acc[c][v] = I::fmadd(a[p][v], b, acc[c][v]);
    }
  }
  _Pragma("GCC unroll 4") for (int c = 0; c < J; ++c) {
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
      float* dst = C + I::kWidth * v + size_t(col[c]) * ldc;
      if (v + 1 < V)
        I::store(dst, acc[c][v]);
      else
        I::store(dst, mask[v], acc[c][v]);
    }
  }
}

// Columns 0..n-1 of C, or only the `count` columns listed in `cols` when it is not null.
template <class I, bool TransB, int K, int V>
void rank_k_update(int m, int n, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C,
                   int ldc, const int32_t* cols) {
  // Registers: A, J*V accumulators, a broadcast. Where A does not fit (AVX2's 16 registers) it
  // is reloaded from L1 and the accumulators get up to half the registers.
  constexpr bool a_fits = K * V + 2 * V < I::kRegisters - 2;
  constexpr int J = a_fits ? (K * V + 4 * V < I::kRegisters - 2 ? 4 : 2) : (4 * V <= I::kRegisters / 2 ? 4 : 2);
  typename I::Mask mask[V];
  typename I::Vec a[K][V];
  const auto va = I::set1(alpha);
  _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
    mask[v] = I::mask(m - I::kWidth * v);
    _Pragma("GCC unroll 12") for (int p = 0; p < K; ++p) a[p][v] =
        I::mul(va, I::load(mask[v], A + I::kWidth * v + size_t(p) * lda));
  }
  int j = 0;
  for (; j + J <= n; j += J)
    rank_k_columns<I, TransB, K, V, J>(a, mask, j, cols ? cols + j : nullptr, B, ldb, beta, C, ldc);
  for (; j < n; ++j) rank_k_columns<I, TransB, K, V, 1>(a, mask, j, cols ? cols + j : nullptr, B, ldb, beta, C, ldc);
}

// Picks the instantiation for k (in [1, kRankKMax]) and the row vectors of m (m <= 32).
template <class I, bool TransB, int K>
void rank_k_dispatch(int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                     float* C, int ldc, const int32_t* cols) {
  if constexpr (K > 0) {
    if (k != K) return rank_k_dispatch<I, TransB, K - 1>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, cols);
    constexpr int W = I::kWidth;
    switch ((m + W - 1) / W) {
      case 1: return rank_k_update<I, TransB, K, 1>(m, n, alpha, A, lda, B, ldb, beta, C, ldc, cols);
      case 2: return rank_k_update<I, TransB, K, 2>(m, n, alpha, A, lda, B, ldb, beta, C, ldc, cols);
      case 3:
        if constexpr (kRankKRows / W >= 3)
          return rank_k_update<I, TransB, K, 3>(m, n, alpha, A, lda, B, ldb, beta, C, ldc, cols);
        break;
      default:
        if constexpr (kRankKRows / W >= 4)
          return rank_k_update<I, TransB, K, 4>(m, n, alpha, A, lda, B, ldb, beta, C, ldc, cols);
        break;
    }
  }
}

}  // namespace
}  // namespace bp::simd
