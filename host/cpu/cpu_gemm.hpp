// Single-precision GEMM for the CPU backend with cuBLAS's column-major arguments:
//   C = alpha * op(A) * op(B) + beta * C,  op(X) = X or X^T,  C (m, n), op(A) (m, k), op(B) (k, n)
// beta == 0 means C is not read (so it may hold garbage), as in BLAS. On the AVX-512 and AVX2
// paths (cpu_path.hpp, chosen at run time): a B that is mostly zeros (input pixels) takes
// cpu_sparse_gemm.hpp's kernels; skinny shapes (a mini-batch dimension of at most 32, the
// trainer's common case) take register-blocked kernels (cpu_dense_kernels.hpp), since a BLAS
// call costs more than the arithmetic there; the rest go to BLIS.
#pragma once

#include <string>

namespace bp {

void cpu_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
              int ldb, float beta, float* C, int ldc);

// The BLAS alone, for tests and benchmarks that compare the two paths.
void blas_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc);

// Threads the BLAS may use (0 = all cores).
void set_blas_threads(int threads);

// The kernel path in use and what it does, for `backprop info`.
std::string cpu_gemm_description();

}  // namespace bp
