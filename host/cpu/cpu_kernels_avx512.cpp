// The GEMM and bias+sigmoid kernels for CPUs with AVX-512 (F, VL, BW, DQ): compiled with those flags (CMakeLists.txt)
// and called only where cpu_path found them.
#include "cpu/cpu_kernels.hpp"

#if defined(__AVX512F__)
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_ps passthroughs, GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "cpu/cpu_kernel_dispatch.hpp"
#include "cpu/cpu_sigmoid.hpp"
#include "cpu/simd_avx512.hpp"

namespace bp {
const GemmKernels gemm_kernels_avx512 = simd::gemm_kernels<simd::Avx512>;
const BiasSigmoidKernel bias_sigmoid_avx512 = simd::bias_sigmoid<simd::Avx512>;
const SparseInputKernels* const sparse_input_avx512 = &simd::sparse_input_kernels<simd::Avx512>;
}  // namespace bp
#else
namespace bp {
const GemmKernels gemm_kernels_avx512 = nullptr;
const BiasSigmoidKernel bias_sigmoid_avx512 = nullptr;
const SparseInputKernels* const sparse_input_avx512 = nullptr;
}  // namespace bp
#endif
