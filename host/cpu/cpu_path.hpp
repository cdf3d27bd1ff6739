// Which set of GEMM kernels (cpu_kernels.hpp) the CPU backend uses, chosen once at run time from
// what the CPU supports: "avx512" (AVX-512 F/VL/BW/DQ), "avx2" (AVX2 + FMA) or "plain" (BLIS
// alone; BLIS picks its own kernels for the CPU). So one binary built with BACKPROP_NATIVE=OFF
// runs fast everywhere. $BACKPROP_CPU_PATH=avx2 (or plain) asks for a lesser path, for
// comparisons; a path the CPU cannot run is refused with a warning.
#pragma once

#include <string>
#include <vector>

#include "cpu/cpu_kernels.hpp"

namespace bp {

// The paths this build has and this CPU can run, best first ("plain" always last).
std::vector<std::string> runnable_cpu_paths();

// The path in use: the best runnable one, unless $BACKPROP_CPU_PATH or set_cpu_path chose another.
const std::string& cpu_path();

// Switches path (tests and benchmarks); false, changing nothing, if it is not runnable here.
bool set_cpu_path(const std::string& name);

// The kernels of the path in use (nullptr for "plain").
GemmKernels cpu_path_kernels();
BiasSigmoidKernel cpu_path_bias_sigmoid();
const SparseInputKernels* cpu_path_sparse_input();

// The CPU's model name (from /proc/cpuinfo, else "unknown CPU").
std::string cpu_model_name();

}  // namespace bp
