// GEMM kernels that skip the zero pixels of MNIST images (about 80% of them), written once over a
// vector ISA `I` (simd_avx512.hpp, simd_avx2.hpp) and compiled per ISA by cpu_kernels_<isa>.cpp.
//
// sparse_b_gemm: C = alpha A B + beta C for the first layer's forward product Z = W X. Each
// column of B (a sample) is compacted to its nonzero rows (pixels), then the columns of A at
// those rows are summed, 4 vectors of C rows at a time (masked at the tail) in two independent
// chains that hide the FMA latency. When more than kMaxDensity of B is nonzero it declines
// (returns false): use the dense path. The summation order differs from the dense kernels'.
//
// nonzero_rows: the rows of B (n, k) that are nonzero in some column, for the weight update
// W += alpha D X^T with beta 1 (no L2 decay): only the columns of W at pixels that some sample of
// the mini-batch lights change, so the rank-k kernel visits just those. The others would get
// W + alpha sum(d * 0) = W exactly, so skipping them changes no bit.
//
// Scratch memory comes from the caller (see cpu_kernels.hpp) for the reason in
// cpu_dense_kernels.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bp::simd {
namespace {

inline constexpr double kMaxDensity = 0.3;
constexpr int kSparseVectors = 4;  // vectors of C rows per pass

// Rows [0, V widths) of C (fewer at the tail) for every column j, V a compile-time count so
// that the accumulators live in registers.
template <class I, int V>
void sparse_pass(int m, int n, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C,
                 int ldc, const int32_t* rows, const int32_t* starts) {
  const auto va = I::set1(alpha), vb = I::set1(beta);
  typename I::Mask mask[V];
  _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) mask[v] = I::mask(m - I::kWidth * v);
  // Only the last vector can be partial: plain loads elsewhere.
  auto load = [&](int v, const float* p) { return v + 1 < V ? I::load(p) : I::load(mask[v], p); };
  for (int j = 0; j < n; ++j) {
    const float* b = B + size_t(j) * ldb;
    typename I::Vec acc0[V], acc1[V];  // two chains hide the FMA latency
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) acc0[v] = acc1[v] = I::zero();
    const int32_t* r = rows + starts[j];
    const int count = starts[j + 1] - starts[j];
    int q = 0;
    for (; q + 1 < count; q += 2) {
      const auto b0 = I::set1(b[r[q]]), b1 = I::set1(b[r[q + 1]]);
      const float* a0 = A + size_t(r[q]) * lda;
      const float* a1 = A + size_t(r[q + 1]) * lda;
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
        acc0[v] = I::fmadd(load(v, a0 + I::kWidth * v), b0, acc0[v]);
        acc1[v] = I::fmadd(load(v, a1 + I::kWidth * v), b1, acc1[v]);
      }
    }
    if (q < count) {
      const auto b0 = I::set1(b[r[q]]);
      const float* a0 = A + size_t(r[q]) * lda;
      _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) acc0[v] = I::fmadd(load(v, a0 + I::kWidth * v), b0, acc0[v]);
    }
    _Pragma("GCC unroll 4") for (int v = 0; v < V; ++v) {
      float* c = C + I::kWidth * v + size_t(j) * ldc;
      auto out = I::mul(va, I::add(acc0[v], acc1[v]));
      if (beta != 0.0f) out = I::fmadd(vb, I::load(mask[v], c), out);
      I::store(c, mask[v], out);
    }
  }
}

// Scratch: k * n + I::kWidth ints for the row lists, then n + 1 for where each column's starts.
template <class I>
bool sparse_b_gemm(int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                   float* C, int ldc, int32_t* scratch) {
  int32_t* rows = scratch;
  int32_t* starts = scratch + size_t(k) * n + I::kWidth;
  const size_t budget = size_t(kMaxDensity * double(k) * n);
  int32_t* end = rows;
  starts[0] = 0;
  for (int j = 0; j < n; ++j) {
    const float* b = B + size_t(j) * ldb;
    for (int i = 0; i < k; i += I::kWidth) end = I::append_indices(I::nonzero_bits(b + i, k - i), i, end);
    if (size_t(end - rows) > budget) return false;
    starts[j + 1] = int32_t(end - rows);
  }
  constexpr int kRowsPerPass = kSparseVectors * I::kWidth;
  for (int i0 = 0; i0 < m; i0 += kRowsPerPass) {
    const int rows_here = m - i0;
    switch ((imin(kRowsPerPass, rows_here) + I::kWidth - 1) / I::kWidth) {
      case 1: sparse_pass<I, 1>(rows_here, n, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc, rows, starts); break;
      case 2: sparse_pass<I, 2>(rows_here, n, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc, rows, starts); break;
      case 3: sparse_pass<I, 3>(rows_here, n, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc, rows, starts); break;
      default: sparse_pass<I, 4>(rows_here, n, alpha, A + i0, lda, B, ldb, beta, C + i0, ldc, rows, starts); break;
    }
  }
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
