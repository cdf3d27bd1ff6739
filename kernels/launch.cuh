// How kernels are launched and declare shared memory, so that the same source builds with nvcc
// and, in the emulation test build (-DBACKPROP_CUDA_EMU=ON, tests/cuda_emu), as host C++:
//   BP_LAUNCH(kernel, grid, block, shared_bytes, stream)(args...)  is  kernel<<<...>>>(args...)
//   BP_SHARED(T, name, n);                                          is  __shared__ T name[n];
//   BP_DYNAMIC_SHARED(T, name);        name points to the launch's dynamic shared memory
//                                      (extern __shared__), 16-byte aligned
//   BP_UNROLL                          before a loop: #pragma unroll (GCC's spelling under emulation)
// Under emulation the launch is queued on the emulated stream with its arguments checked, and
// each block gets its own poisoned shared memory.
#pragma once

#if defined(BACKPROP_CUDA_EMULATION)
#include "backprop_emu/device.hpp"
#define BP_LAUNCH(kernel, grid, block, shared, stream) \
  ::bp::emu::Launcher(#kernel, kernel, dim3(grid), dim3(block), size_t(shared), stream)
#define BP_SHARED(T, name, n) \
  T* const name = static_cast<T*>(::bp::emu::shared_array(__FILE__, __LINE__, sizeof(T) * (n), alignof(T)))
#define BP_DYNAMIC_SHARED(T, name) T* const name = static_cast<T*>(::bp::emu::dynamic_shared())
#define BP_UNROLL _Pragma("GCC unroll 16")
#else
#define BP_UNROLL _Pragma("unroll")
#define BP_LAUNCH(kernel, grid, block, shared, stream) kernel<<<grid, block, shared, stream>>>
#define BP_SHARED(T, name, n) __shared__ T name[n]
#define BP_DYNAMIC_SHARED(T, name)               \
  extern __shared__ float4 bp_dynamic_shared_[]; \
  T* const name = reinterpret_cast<T*>(bp_dynamic_shared_)
#endif
