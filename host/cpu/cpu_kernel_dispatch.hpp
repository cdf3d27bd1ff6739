// Which kernel serves which GEMM shape, written once over a vector ISA `I` and instantiated by
// each cpu_kernels_<isa>.cpp (see cpu_kernels.hpp):
// - NN with long, mostly-zero columns of B (input pixels): sparse_b_gemm;
// - NT with k <= 12 (the weight update at a small mini-batch): the rank-k kernel, over only the
//   columns of C whose row of B is nonzero somewhere when B is long (pixels) and beta is 1;
// - TN with k <= 12 and m <= 32 (W^T d through a small output layer): A^T copied out, rank-k;
// - NN/NT with n or k <= 32: the skinny register-blocked kernel.
#pragma once

#include <cstdint>

#include "cpu/cpu_dense_kernels.hpp"
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_sparse_gemm.hpp"

namespace bp::simd {
namespace {

// Shorter columns of B are activations of a hidden layer, rarely sparse: not worth a look.
constexpr int kMinSparseLength = 256;

template <class I>
bool gemm_kernels(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
                  int ldb, float beta, float* C, int ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return false;
  if (!trans_a && !trans_b && k >= kMinSparseLength && size_t(k) * n < (size_t(1) << 30) &&
      sparse_b_gemm<I>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
                       cpu_kernel_scratch(size_t(k) * n + size_t(n) + 1 + I::kWidth),
                       cpu_kernel_float_scratch(size_t(k) * n + I::kWidth)))
    return true;
  if (!trans_a && trans_b && k <= kRankKMax) {
    const int32_t* cols = nullptr;
    int count = n;
    if (beta == 1.0f && n >= kMinSparseLength) {
      int32_t* list = cpu_kernel_scratch(size_t(n) + I::kWidth);
      count = nonzero_rows<I>(n, k, B, ldb, list);
      cols = list;
    }
    for (int i0 = 0; i0 < m; i0 += kRankKRows)  // 32 rows of A at a time in registers
      rank_k_dispatch<I, true, kRankKMax>(imin(kRankKRows, m - i0), count, k, alpha, A + i0, lda, B, ldb, beta, C + i0,
                                          ldc, cols);
    return true;
  }
  if (trans_a && !trans_b && k <= kRankKMax && m <= kRankKRows) {
    float at[kRankKRows * kRankKMax];
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p) at[i + size_t(p) * m] = A[p + size_t(i) * lda];
    rank_k_dispatch<I, false, kRankKMax>(m, n, k, alpha, at, m, B, ldb, beta, C, ldc, nullptr);
    return true;
  }
  if (!trans_a && (n <= 32 || k <= 32)) {
    skinny_gemm<I>(trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return true;
  }
  return false;
}

template <class I>
constexpr SparseInputKernels sparse_input_kernels{byte_nonzeros<I>, widen_list<I>, sparse_columns_gemm<I>,
                                                  sparse_columns_update<I>};

}  // namespace
}  // namespace bp::simd
