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

#include "base/rng.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/device_buffer.hpp"
#include "data/dataset.hpp"
#include "model/network.hpp"
#include "train/trainer.hpp"

// Skips the test, with the reason, where no CUDA device is usable; fails instead when
// BACKPROP_REQUIRE_GPU=1 (the GPU check sets it, so a machine with a GPU never passes vacuously).
#define SKIP_WITHOUT_GPU()                                                                       \
  do {                                                                                           \
    const ::bp::CudaStatus status = ::bp::cuda_status();                                         \
    if (!status.usable) {                                                                        \
      const char* required = std::getenv("BACKPROP_REQUIRE_GPU");                                \
      if (required && std::string(required) == "1") FAIL() << "GPU required: " << status.reason; \
      GTEST_SKIP() << "no usable CUDA device: " << status.reason;                                \
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

// K networks of one shape for one backend (a sweep's group): their starting parameters, Hypers
// and orders (network k's at k * length).
struct Group {
  std::vector<Network> start;
  std::vector<Hyper> hypers;
  std::vector<uint32_t> orders;
};

// Each network with its own seed, order (the first `length` samples of its own permutation of
// n), eta (up to 3 quadratic, 0.5 otherwise, 0.1 with momentum), lambda (0, 2.5, 5 in turn) and mu.
inline Group make_group(const std::vector<size_t>& sizes, size_t K, Cost cost, bool momentum, size_t n, size_t length,
                        uint64_t seed) {
  Group g;
  for (size_t k = 0; k < K; ++k) {
    Hyper h;
    h.cost = cost;
    h.eta = (momentum ? 0.1 : cost == Cost::quadratic ? 3.0 : 0.5) * double(k + 1) / double(K);
    h.lambda = double(k % 3) * 2.5;
    h.momentum = momentum ? 0.5 + 0.1 * double(k % 4) : 0.0;
    h.n = n;
    g.hypers.push_back(h);
    g.start.push_back(initialise(sizes, Init::scaled, seed + k, output_layer(cost)));
    const auto o = epoch_permutation(seed + k, 0, n);
    g.orders.insert(g.orders.end(), o.begin(), o.begin() + length);
  }
  return g;
}

// Network k's samples [begin, end) of each network's order of `length`, for a train_all() call.
inline std::vector<uint32_t> part(const Group& g, size_t length, size_t begin, size_t end) {
  std::vector<uint32_t> out;
  for (size_t k = 0; k < g.start.size(); ++k)
    out.insert(out.end(), g.orders.begin() + k * length + begin, g.orders.begin() + k * length + end);
  return out;
}

// Test images the book's 784-30-10 (seed 1) classifies correctly after one epoch on `backend`.
inline size_t one_epoch_correct(Backend& backend, const Dataset& d, Init init) {
  TrainOptions o;
  o.epochs = 1;
  o.evaluate_validation = false;
  size_t correct = 0;
  Network net = initialise({784, 30, 10}, init, 1);
  EXPECT_EQ(train(backend, net, d, o, [&](const EpochReport& r) { correct = r.test_correct; }).status,
            TrainOutcome::finished);
  return correct;
}

}  // namespace bp::test
