// Reading a run of floats as float4s, the widest shared-memory load, where the run starts on 16
// bytes (CUDA C++ Programming Guide, "Device Memory Accesses": a vector access must be aligned to
// its size, else the kernel fails with cudaErrorMisalignedAddress). The emulation build checks the
// alignment as the hardware would and reads the bytes with memcpy.
#pragma once

#include <cstring>

#include "kernels/launch.cuh"

namespace bp::kernels {

// v[0..N) = p[0..N), p 16-byte aligned; the last float4 may read up to 3 floats past N, which
// the caller's layout must own.
template <int N>
__device__ __forceinline__ void load_floats(const float* p, float (&v)[N]) {
#if defined(BACKPROP_CUDA_EMULATION)
  ::bp::emu::require_aligned(p, 16, "a float4 read");
#endif
  BP_UNROLL
  for (int q = 0; q < (N + 3) / 4; ++q) {
    float4 f;
#if defined(BACKPROP_CUDA_EMULATION)
    std::memcpy(&f, p + 4 * q, sizeof f);
#else
    f = reinterpret_cast<const float4*>(p)[q];
#endif
    const float lanes[4] = {f.x, f.y, f.z, f.w};
    BP_UNROLL
    for (int r = 0; r < 4; ++r)
      if (4 * q + r < N) v[4 * q + r] = lanes[r];
  }
}

}  // namespace bp::kernels
