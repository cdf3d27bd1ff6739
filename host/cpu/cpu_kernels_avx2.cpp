// The GEMM and bias+sigmoid kernels for CPUs with AVX2 and FMA: compiled with those flags and without AVX-512
// (CMakeLists.txt), called only where cpu_path found them.
#include "cpu/cpu_kernels.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include "cpu/cpu_kernel_dispatch.hpp"
#include "cpu/cpu_sigmoid.hpp"
#include "cpu/simd_avx2.hpp"

namespace bp {
const GemmKernels gemm_kernels_avx2 = simd::gemm_kernels<simd::Avx2>;
const BiasSigmoidKernel bias_sigmoid_avx2 = simd::bias_sigmoid<simd::Avx2>;
const SparseInputKernels* const sparse_input_avx2 = &simd::sparse_input_kernels<simd::Avx2>;
}  // namespace bp
#else
namespace bp {
const GemmKernels gemm_kernels_avx2 = nullptr;
const BiasSigmoidKernel bias_sigmoid_avx2 = nullptr;
const SparseInputKernels* const sparse_input_avx2 = nullptr;
}  // namespace bp
#endif
