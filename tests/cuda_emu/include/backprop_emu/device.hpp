// The device side of the CUDA emulation: what a kernel's body sees (threadIdx, blockIdx,
// blockDim, gridDim, __syncthreads, atomics, shared memory) and the launcher that stands in for
// `kernel<<<grid, block, shared, stream>>>(args...)`. Included by kernels/launch.cuh in the
// emulation build only.
//
// CUDA semantics kept (CUDA C++ Programming Guide: "Built-in Variables", "Synchronization
// Functions", "Atomic Functions", "Shared Memory", "Execution Configuration"):
//   - blocks run one after another, the threads of a block as fibers that switch only at
//     __syncthreads, in a seeded random order between barriers, so a missing barrier reads
//     unwritten (poisoned) shared memory or a half-finished sum;
//   - a __syncthreads that not every thread of the block reaches, or threads waiting at
//     different ones, is an error (on the hardware: a hang or undefined behaviour);
//   - atomics are read-modify-write with the documented return value (fibers never switch
//     inside one, so they are atomic);
//   - shared memory is per block, poisoned when a block starts; at most 48 KiB of static shared
//     memory per block; dynamic shared memory above 48 KiB only after cudaFuncSetAttribute.
#pragma once

#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_runtime_api.h"

namespace bp::emu {

struct GridPosition {
  uint3 block;
  dim3 block_dim, grid_dim;
  size_t dynamic_shared = 0;  // bytes of the launch's dynamic shared memory
};

// Where the running thread is: set by the block runner before each thread runs. Functions, not
// thread_local variables, so that no compiler caches their address across a fiber switch.
const uint3& thread_position();
const GridPosition& grid_position();

void syncthreads(const char* file, int line);
// The block's array declared at file:line, `bytes` long (the same one for every thread of the block).
void* shared_array(const char* file, int line, size_t bytes, size_t align);
// The block's dynamic shared memory (extern __shared__): the launch's bytes, poisoned when the
// block starts, its end the end of a heap allocation (so ASan sees a read past it).
void* dynamic_shared();
// A vector access at p must be `align`-byte aligned: otherwise a device fault,
// cudaErrorMisalignedAddress, naming the kernel, the block and `what`.
void require_aligned(const void* p, size_t align, const char* what);

// A pointer argument of a launch: checked to be device memory when launched, and still allocated
// when it runs (a graph replays its kernels' arguments as captured).
struct PointerArgument {
  const void* p;
  int index;
};

void submit_kernel(const char* name, const void* func, dim3 grid, dim3 block, size_t dynamic_shared,
                   cudaStream_t stream, std::vector<PointerArgument> pointers, std::function<void()> body);

template <class... P>
class Launcher {
 public:
  Launcher(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t shared, cudaStream_t stream)
      : name_(name), kernel_(kernel), grid_(grid), block_(block), shared_(shared), stream_(stream) {}

  // Arguments convert to the kernel's parameter types as in a call, and are copied at launch.
  template <class... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "a kernel launch with the wrong number of arguments");
    std::tuple<std::decay_t<P>...> values(std::forward<A>(args)...);
    std::vector<PointerArgument> pointers;
    collect(values, pointers, std::index_sequence_for<P...>{});
    auto* kernel = kernel_;
    submit_kernel(name_, reinterpret_cast<const void*>(kernel_), grid_, block_, shared_, stream_, std::move(pointers),
                  [kernel, values] { std::apply(kernel, values); });
  }

 private:
  template <class Tuple, size_t... I>
  static void collect(const Tuple& values, std::vector<PointerArgument>& out, std::index_sequence<I...>) {
    (add<I>(std::get<I>(values), out), ...);
  }
  template <size_t I, class T>
  static void add(const T& value, std::vector<PointerArgument>& out) {
    if constexpr (std::is_pointer_v<T>)
      if (value) out.push_back({static_cast<const void*>(value), int(I)});
  }

  const char* name_;
  void (*kernel_)(P...);
  dim3 grid_, block_;
  size_t shared_;
  cudaStream_t stream_;
};

// Atomic functions for the types CUDA defines them on; each returns the old value.
#define BP_EMU_ATOMIC_ADD(T)              \
  inline T atomicAdd(T* address, T val) { \
    const T old = *address;               \
    *address = old + val;                 \
    return old;                           \
  }
BP_EMU_ATOMIC_ADD(int)
BP_EMU_ATOMIC_ADD(unsigned)
BP_EMU_ATOMIC_ADD(unsigned long long)
BP_EMU_ATOMIC_ADD(float)
BP_EMU_ATOMIC_ADD(double)
#undef BP_EMU_ATOMIC_ADD

}  // namespace bp::emu

using bp::emu::atomicAdd;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// Shared memory is declared with BP_SHARED (kernels/launch.cuh), which the emulation can size
// and give each block afresh; a plain __shared__ would be one array for every block.
#define __shared__ __shared___is_not_emulated_declare_with_BP_SHARED
#define threadIdx (::bp::emu::thread_position())
#define blockIdx (::bp::emu::grid_position().block)
#define blockDim (::bp::emu::grid_position().block_dim)
#define gridDim (::bp::emu::grid_position().grid_dim)
#define __syncthreads() ::bp::emu::syncthreads(__FILE__, __LINE__)
