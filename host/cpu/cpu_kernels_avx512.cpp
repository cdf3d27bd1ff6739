// The GEMM kernels for CPUs with AVX-512 (F, VL, BW, DQ): compiled with those flags (CMakeLists.txt)
// and called only where cpu_path found them.
#include "cpu/cpu_kernels.hpp"

#if defined(__AVX512F__)
#include "cpu/cpu_kernel_dispatch.hpp"
#include "cpu/simd_avx512.hpp"

namespace bp {
const GemmKernels gemm_kernels_avx512 = simd::gemm_kernels<simd::Avx512>;
}
#else
namespace bp {
const GemmKernels gemm_kernels_avx512 = nullptr;
}
#endif
