// GEMM kernels that skip the zero pixels of MNIST images (about 80% of them), written once over a
// vector ISA `I` (simd_avx512.hpp, simd_avx2.hpp) and compiled per ISA by cpu_kernels_<isa>.cpp.
//
// Input batches as lists of their nonzero pixels (SparseColumns, cpu_kernels.hpp), made once per
// step straight from the image bytes (byte_nonzeros) and read by both GEMMs of the first layer:
// - sparse_columns_gemm, the forward product Z = W X: for each sample, the columns of W at its
//   nonzero pixels summed, 4 vectors of rows at a time in two chains that hide the FMA latency;
// - sparse_columns_update, the weight update W = beta W + alpha D X^T: each sample's alpha d
//   added to the columns of W at its nonzero pixels only. The other columns would get
//   W + alpha d * 0 = W exactly, so skipping them changes no bit (with lambda 0, beta 1).
//
// sparse_b_gemm: the forward product for a dense B, listed first; when more than kMaxDensity of
// B is nonzero it declines (returns false): use the dense path. nonzero_rows: the rows of a dense
// B nonzero in some column, for the rank-k update of a dense X. The summation order of the
// forward differs from the dense kernels'.
//
// Scratch memory comes from the caller (see cpu_kernels.hpp) for the reason in
// cpu_dense_kernels.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/cpu_kernels.hpp"

namespace bp::simd {
namespace {

inline constexpr double kMaxDensity = 0.3;
constexpr int kSparseVectors = 4;  // vectors of C rows per pass

// Calls pass.template operator()<V>(i0, rows) for each block of at most kSparseVectors vectors
// of rows [0, m), V the block's vector count (a compile-time constant, so that the kernels'
// accumulators live in registers), rows the rows left from i0 on.
template <class I, class Pass>
void for_row_blocks(int m, Pass&& pass) {
  constexpr int kRowsPerPass = kSparseVectors * I::kWidth;
  for (int i0 = 0; i0 < m; i0 += kRowsPerPass) {
    const int rows = m - i0;
    switch ((imin(kRowsPerPass, rows) + I::kWidth - 1) / I::kWidth) {
      case 1: pass.template operator()<1>(i0, rows); break;
      case 2: pass.template operator()<2>(i0, rows); break;
      case 3: pass.template operator()<3>(i0, rows); break;
      default: pass.template operator()<4>(i0, rows); break;
    }
  }
}

// Rows [0, V widths) of C = alpha A X + beta C (fewer at the tail) for every column j. Each
// column's sum runs in two chains (even and odd entries of its list) that hide the FMA latency;
// where the registers allow, two columns go together, so four chains are in flight. The pairing
// changes no sum: each column's chains add the same terms in the same order either way.
template <class I, int V>
void sparse_pass(int m, float alpha, const float* A, int lda, const SparseColumns& X, float beta, float* C, int ldc) {
  using Vec = typename I::Vec;
  const auto va = I::set1(alpha), vb = I::set1(beta);
  typename I::Mask mask[V];
  _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) mask[v] = I::mask(m - I::kWidth * v);
  // Only the last vector can be partial: plain loads elsewhere.
  auto load = [&](int v, const float* p) { return v + 1 < V ? I::load(p) : I::load(mask[v], p); };
  // Entries [q, end) of column j into its two chains.
  auto accumulate = [&](int j, int q, Vec(&acc0)[V], Vec(&acc1)[V]) {
    const int32_t* r = X.index + X.start[j];
    const float* x = X.value + X.start[j];
    const int count = X.start[j + 1] - X.start[j];
    for (; q + 1 < count; q += 2) {
      const auto b0 = I::set1(x[q]), b1 = I::set1(x[q + 1]);
      const float* a0 = A + size_t(r[q]) * lda;
      const float* a1 = A + size_t(r[q + 1]) * lda;
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
        acc0[v] = I::fmadd(load(v, a0 + I::kWidth * v), b0, acc0[v]);
        acc1[v] = I::fmadd(load(v, a1 + I::kWidth * v), b1, acc1[v]);
      }
    }
    if (q < count) {
      const auto b0 = I::set1(x[q]);
      const float* a0 = A + size_t(r[q]) * lda;
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) acc0[v] = I::fmadd(load(v, a0 + I::kWidth * v), b0, acc0[v]);
    }
  };
  auto finish = [&](int j, const Vec(&acc0)[V], const Vec(&acc1)[V]) {
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
      float* c = C + I::kWidth * v + size_t(j) * ldc;
      auto out = I::mul(va, I::add(acc0[v], acc1[v]));
      if (beta != 0.0f) out = I::fmadd(vb, I::load(mask[v], c), out);
      I::store(c, mask[v], out);
    }
  };
  constexpr bool kPairs = 4 * V <= I::kRegisters / 2;
  int j = 0;
  if constexpr (kPairs) {
    for (; j + 1 < X.cols; j += 2) {
      Vec acc0[V], acc1[V], acc2[V], acc3[V];
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) acc0[v] = acc1[v] = acc2[v] = acc3[v] = I::zero();
      const int32_t* r0 = X.index + X.start[j];
      const float* x0 = X.value + X.start[j];
      const int32_t* r1 = X.index + X.start[j + 1];
      const float* x1 = X.value + X.start[j + 1];
      const int both = imin(X.start[j + 1] - X.start[j], X.start[j + 2] - X.start[j + 1]) & ~1;
      for (int q = 0; q < both; q += 2) {
        const auto b0 = I::set1(x0[q]), b1 = I::set1(x0[q + 1]), b2 = I::set1(x1[q]), b3 = I::set1(x1[q + 1]);
        const float* a0 = A + size_t(r0[q]) * lda;
        const float* a1 = A + size_t(r0[q + 1]) * lda;
        const float* a2 = A + size_t(r1[q]) * lda;
        const float* a3 = A + size_t(r1[q + 1]) * lda;
        _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
          acc0[v] = I::fmadd(load(v, a0 + I::kWidth * v), b0, acc0[v]);
          acc1[v] = I::fmadd(load(v, a1 + I::kWidth * v), b1, acc1[v]);
          acc2[v] = I::fmadd(load(v, a2 + I::kWidth * v), b2, acc2[v]);
          acc3[v] = I::fmadd(load(v, a3 + I::kWidth * v), b3, acc3[v]);
        }
      }
      accumulate(j, both, acc0, acc1);
      accumulate(j + 1, both, acc2, acc3);
      finish(j, acc0, acc1);
      finish(j + 1, acc2, acc3);
    }
  }
  for (; j < X.cols; ++j) {
    Vec acc0[V], acc1[V];
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) acc0[v] = acc1[v] = I::zero();
    accumulate(j, 0, acc0, acc1);
    finish(j, acc0, acc1);
  }
}

// C(m, X.cols) = alpha A X + beta C.
template <class I>
void sparse_columns_gemm(int m, float alpha, const float* A, int lda, const SparseColumns& X, float beta, float* C,
                         int ldc) {
  for_row_blocks<I>(
      m, [&]<int V>(int i0, int rows) { sparse_pass<I, V>(rows, alpha, A + i0, lda, X, beta, C + i0, ldc); });
}

// Rows [0, V widths) of C += alpha D X^T: sample by sample, alpha d_j is held in registers and
// added, times the pixel's value, to the column of each of its nonzero pixels. The rank-k
// kernel adds the same products to each column in the same order (sample 0 first). Each column
// is loaded before the previous one is stored: neighbouring pixels are often both lit, and a
// column's first vector overlaps the masked tail of the one before, so a load after that store
// would wait for it to reach the cache (masked stores do not forward; measured 2x slower).
template <class I, int V>
void sparse_update_pass(int m, float alpha, const float* D, int ldd, const SparseColumns& X, float* C, int ldc) {
  const auto va = I::set1(alpha);
  typename I::Mask mask[V];
  _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) mask[v] = I::mask(m - I::kWidth * v);
  auto load = [&](int v, const float* p) { return v + 1 < V ? I::load(p) : I::load(mask[v], p); };
  for (int j = 0; j < X.cols; ++j) {
    const int32_t* r = X.index + X.start[j];
    const float* x = X.value + X.start[j];
    const int count = X.start[j + 1] - X.start[j];
    if (count == 0) continue;
    typename I::Vec a[V], cur[V];
    float* c = C + size_t(r[0]) * ldc;
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
      a[v] = I::mul(va, I::load(mask[v], D + I::kWidth * v + size_t(j) * ldd));
      cur[v] = load(v, c + I::kWidth * v);
    }
    for (int q = 0; q < count; ++q) {
      const auto b = I::set1(x[q]);
      float* next_c = c;
      typename I::Vec next[V];
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) next[v] = cur[v];
      if (q + 1 < count) {
        next_c = C + size_t(r[q + 1]) * ldc;
        _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) next[v] = load(v, next_c + I::kWidth * v);
      }
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
        const auto out = I::fmadd(a[v], b, cur[v]);
        if (v + 1 < V)
          I::store(c + I::kWidth * v, out);
        else
          I::store(c + I::kWidth * v, mask[v], out);
        cur[v] = next[v];
      }
      c = next_c;
    }
  }
}

// C(m, X.rows) = beta C + alpha D X^T; beta == 0 ignores C's old contents.
template <class I>
void sparse_columns_update(int m, float alpha, const float* D, int ldd, const SparseColumns& X, float beta, float* C,
                           int ldc) {
  if (beta != 1.0f) {  // every column changes: scaled first, as the rank-k kernel scales its accumulators
    const auto vb = I::set1(beta);
    for (int p = 0; p < X.rows; ++p) {
      float* c = C + size_t(p) * ldc;
      for (int i = 0; i < m; i += I::kWidth) {
        const auto mask = I::mask(m - i);
        I::store(c + i, mask, beta == 0.0f ? I::zero() : I::mul(vb, I::load(mask, c + i)));
      }
    }
  }
  for_row_blocks<I>(
      m, [&]<int V>(int i0, int rows) { sparse_update_pass<I, V>(rows, alpha, D + i0, ldd, X, C + i0, ldc); });
}

// The nonzero bytes of p[0, dim) as rows and values times scale; index and value need room for
// dim + 64 entries.
template <class I>
int byte_nonzeros(const uint8_t* p, int dim, float scale, int32_t* index, float* value) {
  int count = 0;
  for (int i = 0; i < dim; i += I::kByteBlock)
    count += I::append_nonzero_bytes(p + i, dim - i, i, scale, index + count, value + count);
  return count;
}

// One image's compact list (cpu_listed_images.hpp) widened to the kernels' rows and values, a
// vector at a time: the lists are padded, so the last vector may read past the list; it writes
// up to I::kWidth - 1 entries past count, which the caller's room allows.
template <class I>
void widen_list(const uint16_t* index, const uint8_t* value, int count, float scale, int32_t* index_out,
                float* value_out) {
  for (int q = 0; q < count; q += I::kWidth) I::widen(index + q, value + q, scale, index_out + q, value_out + q);
}

// C = alpha A B + beta C for a dense B: its columns listed first (declining when more than
// kMaxDensity of B is nonzero). Scratch: k * n + I::kWidth ints for the rows, then n + 1 for
// where each column starts; values: k * n + I::kWidth floats.
template <class I>
bool sparse_b_gemm(int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                   float* C, int ldc, int32_t* scratch, float* values) {
  int32_t* rows = scratch;
  int32_t* starts = scratch + size_t(k) * n + I::kWidth;
  const size_t budget = size_t(kMaxDensity * double(k) * n);
  int32_t* end = rows;
  starts[0] = 0;
  for (int j = 0; j < n; ++j) {
    const float* b = B + size_t(j) * ldb;
    for (int i = 0; i < k; i += I::kWidth) {
      const unsigned bits = I::nonzero_bits(b + i, k - i);
      I::append_values(bits, b + i, values + (end - rows));
      end = I::append_indices(bits, i, end);
    }
    if (size_t(end - rows) > budget) return false;
    starts[j + 1] = int32_t(end - rows);
  }
  sparse_columns_gemm<I>(m, alpha, A, lda, SparseColumns{k, n, rows, values, starts}, beta, C, ldc);
  return true;
}

// Lists (at out, which needs n + I::kWidth ints) the rows j of B (n, k; B[j + p ldb]) with a
// nonzero entry in some column p, and returns how many there are.
template <class I>
int nonzero_rows(int n, int k, const float* B, int ldb, int32_t* out) {
  int32_t* end = out;
  for (int i = 0; i < n; i += I::kWidth) {
    unsigned bits = 0;
    for (int p = 0; p < k; ++p) bits |= I::nonzero_bits(B + i + size_t(p) * ldb, n - i);
    end = I::append_indices(bits, i, end);
  }
  return int(end - out);
}

}  // namespace
}  // namespace bp::simd
