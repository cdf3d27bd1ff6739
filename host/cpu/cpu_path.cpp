// See cpu_path.hpp.
#include "cpu/cpu_path.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace bp {
namespace {

bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
#else
  return false;
#endif
}

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2") &&
         __builtin_cpu_supports("popcnt");
#else
  return false;
#endif
}

struct Path {
  std::string name;
  GemmKernels kernels;
  BiasSigmoidKernel bias_sigmoid;
  const SparseInputKernels* sparse_input;
};

std::vector<Path> runnable() {
  std::vector<Path> paths;
  if (gemm_kernels_avx512 && cpu_has_avx512())
    paths.push_back({"avx512", gemm_kernels_avx512, bias_sigmoid_avx512, sparse_input_avx512});
  if (gemm_kernels_avx2 && cpu_has_avx2())
    paths.push_back({"avx2", gemm_kernels_avx2, bias_sigmoid_avx2, sparse_input_avx2});
  paths.push_back({"plain", nullptr, nullptr, nullptr});
  return paths;
}

struct Current {
  std::string name;
  std::atomic<GemmKernels> kernels;
  std::atomic<BiasSigmoidKernel> bias_sigmoid;
  std::atomic<const SparseInputKernels*> sparse_input;
};

Current& current() {
  static Current c = [] {
    const std::vector<Path> paths = runnable();
    Path chosen = paths.front();
    if (const char* wanted = std::getenv("BACKPROP_CPU_PATH"); wanted && *wanted) {
      const auto it = std::find_if(paths.begin(), paths.end(), [&](const Path& p) { return p.name == wanted; });
      if (it != paths.end())
        chosen = *it;
      else if (std::string(wanted) == "avx512" || std::string(wanted) == "avx2")
        std::fprintf(stderr, "backprop: BACKPROP_CPU_PATH=%s is not runnable on this CPU/build; using %s\n", wanted,
                     chosen.name.c_str());
      else
        std::fprintf(stderr, "backprop: BACKPROP_CPU_PATH=%s is unknown (avx512, avx2 or plain); using %s\n", wanted,
                     chosen.name.c_str());
    }
    return Current{chosen.name, chosen.kernels, chosen.bias_sigmoid, chosen.sparse_input};
  }();
  return c;
}

}  // namespace

std::vector<std::string> runnable_cpu_paths() {
  std::vector<std::string> names;
  for (const Path& p : runnable()) names.push_back(p.name);
  return names;
}

const std::string& cpu_path() { return current().name; }

bool set_cpu_path(const std::string& name) {
  for (const Path& p : runnable()) {
    if (p.name != name) continue;
    Current& c = current();
    c.name = p.name;
    c.kernels.store(p.kernels, std::memory_order_relaxed);
    c.bias_sigmoid.store(p.bias_sigmoid, std::memory_order_relaxed);
    c.sparse_input.store(p.sparse_input, std::memory_order_relaxed);
    return true;
  }
  return false;
}

GemmKernels cpu_path_kernels() { return current().kernels.load(std::memory_order_relaxed); }

BiasSigmoidKernel cpu_path_bias_sigmoid() { return current().bias_sigmoid.load(std::memory_order_relaxed); }

const SparseInputKernels* cpu_path_sparse_input() { return current().sparse_input.load(std::memory_order_relaxed); }

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace bp
