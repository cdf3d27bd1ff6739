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

// nullptr where the build has no such file (not x86-64, or a compiler without the flags).
extern const GemmKernels gemm_kernels_avx512;
extern const GemmKernels gemm_kernels_avx2;
extern const BiasSigmoidKernel bias_sigmoid_avx512;
extern const BiasSigmoidKernel bias_sigmoid_avx2;

// Per-thread scratch of at least `count` ints, contents not kept between calls. It lives in
// portable code: the kernel files use no standard-library templates (see cpu_dense_kernels.hpp).
int32_t* cpu_kernel_scratch(size_t count);

}  // namespace bp
