// What the GPU tests share: the skip that cannot pass vacuously, the poison value, random inputs,
// and host <-> device copies on the kernels' stream. The stream is non-blocking, so a copy on the
// legacy default stream would not be ordered against the kernels: every copy here goes through
// stream s and returns once it has landed.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/device_buffer.hpp"
#include "model/rng.hpp"

// Skips the test, with the reason, where no CUDA device is usable; fails instead when
// BACKPROP_REQUIRE_GPU=1 (the GPU check sets it, so a machine with a GPU never passes vacuously).
#define SKIP_WITHOUT_GPU()                                                                       \
  do {                                                                                           \
    const ::bp::CudaStatus status = ::bp::cuda_status();                                         \
    if (!status.usable) {                                                                        \
      const char* required = std::getenv("BACKPROP_REQUIRE_GPU");                                \
      if (required && std::string(required) == "1") FAIL() << "GPU required: " << status.reason; \
      GTEST_SKIP() << "no usable CUDA device: " << status.reason;                               \
    }                                                                                            \
  } while (0)

namespace bp::test {

inline const float kPoison = std::numeric_limits<float>::quiet_NaN();

inline std::vector<float> random_floats(size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = float(scale * rng.normal());
  return v;
}

template <class T>
DeviceBuffer<T> to_device(const std::vector<T>& host, cudaStream_t s) {
  DeviceBuffer<T> d(host.size());
  d.upload(host.data(), host.size(), s);
  BP_CUDA_CHECK(cudaStreamSynchronize(s));
  return d;
}

template <class T>
std::vector<T> to_host(const DeviceBuffer<T>& d, cudaStream_t s) {
  std::vector<T> host(d.size());
  d.download(host.data(), host.size(), s);
  BP_CUDA_CHECK(cudaStreamSynchronize(s));
  return host;
}

}  // namespace bp::test
