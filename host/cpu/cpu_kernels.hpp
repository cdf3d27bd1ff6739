// The hand-written GEMM and bias+sigmoid kernels, entry points per instruction set, each in its own translation
// unit compiled with that ISA's flags (cpu_kernels_avx512.cpp, cpu_kernels_avx2.cpp); cpu_gemm
// calls the one cpu_path chose for this CPU. An entry point returns false for shapes it has no
// kernel for (cpu_gemm then calls the BLAS). Same arguments as cpu_gemm.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bp {

using GemmKernels = bool (*)(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda,
                             const float* B, int ldb, float beta, float* C, int ldc);

// a(n, m) = sigmoid(a + b), b broadcast along the columns (cpu_sigmoid.hpp).
using BiasSigmoidKernel = void (*)(int n, int m, const float* b, float* a);

// A (rows, cols) column-major matrix given by its nonzero entries: those of column j are
// index[q] (row) and value[q] for q in [start[j], start[j + 1]), rows increasing.
struct SparseColumns {
  int rows = 0, cols = 0;
  const int32_t* index = nullptr;
  const float* value = nullptr;
  const int32_t* start = nullptr;
};

// The kernels for an input batch kept as its nonzero pixels (CpuOps::gather_input): listed once
// per step and read by both GEMMs of the first layer, so that neither looks at a zero pixel.
struct SparseInputKernels {
  // Appends the nonzero bytes of p[0, dim) as rows and values byte * scale at index and value,
  // which need room for dim + 64 entries; returns how many there are.
  int (*nonzeros)(const uint8_t* p, int dim, float scale, int32_t* index, float* value);
  // The same from a list made before (cpu_listed_images.hpp): count positions and bytes widened.
  void (*widen)(const uint16_t* index, const uint8_t* value, int count, float scale, int32_t* index_out,
                float* value_out);
  // C(m, X.cols) = alpha A(m, X.rows) X + beta C: the forward product W x.
  void (*gemm)(int m, float alpha, const float* A, int lda, const SparseColumns& X, float beta, float* C, int ldc);
  // C(m, X.rows) = beta C + alpha D(m, X.cols) X^T: the weight update W += a d x^T, each column
  // of C visited once per sample whose pixel there is nonzero. Bit for bit what the dense rank-k
  // kernel gives (the same products added in the same order; the skipped ones are zeros).
  void (*update)(int m, float alpha, const float* D, int ldd, const SparseColumns& X, float beta, float* C, int ldc);
};

// nullptr where the build has no such file (not x86-64, or a compiler without the flags).
extern const GemmKernels gemm_kernels_avx512;
extern const GemmKernels gemm_kernels_avx2;
extern const BiasSigmoidKernel bias_sigmoid_avx512;
extern const BiasSigmoidKernel bias_sigmoid_avx2;
extern const SparseInputKernels* const sparse_input_avx512;
extern const SparseInputKernels* const sparse_input_avx2;

// Per-thread scratch of at least `count` ints, contents not kept between calls. It lives in
// portable code: the kernel files use no standard-library templates (see cpu_dense_kernels.hpp).
int32_t* cpu_kernel_scratch(size_t count);
float* cpu_kernel_float_scratch(size_t count);

}  // namespace bp
