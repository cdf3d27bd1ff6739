// What a test may ask of the emulated device beyond the CUDA API: its size, its scheduling seed,
// and counts of what it ran (so a test can show that a graph really was replayed).
#pragma once

#include <cstddef>
#include <cstdint>

namespace bp::emu {

struct Stats {
  uint64_t kernels_run = 0;      // kernel launches executed (eager or from a graph)
  uint64_t graphs_captured = 0;  // stream captures ended into a graph
  uint64_t graph_launches = 0;   // cudaGraphLaunch calls executed
  size_t device_bytes = 0;       // device memory allocated now
};
Stats stats();

// The device memory cudaMemGetInfo reports and cudaMalloc may hand out (default: 4 GiB, or
// BACKPROP_CUDA_EMU_MEMORY_MIB); below what is allocated now, later allocations fail.
void set_device_memory(size_t bytes);

}  // namespace bp::emu
