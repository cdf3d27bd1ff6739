// Google Benchmark for the CUDA primitives at the trainer's shapes (mini-batch 10 and 256, hidden
// 15/30/100/1024): the cuBLAS GEMMs of a layer, the kernels, and one whole SGD step of 784-H-10
// launched eagerly. Timed with CUDA events around a batch of launches (manual time), so the
// numbers are device time per call including launch gaps. Without a usable GPU every benchmark
// reports an error instead of a number.
#include <benchmark/benchmark.h>

#include <vector>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_ops.hpp"
#include "kernels/step_kernels.cuh"
#include "model/step.hpp"

namespace bp {
namespace {

constexpr int kLaunches = 100;  // per timed batch

struct Gpu {
  Stream stream;
  CublasHandle blas;
  CudaOps ops;
  Gpu() {
    BP_CUBLAS_CHECK(cublasSetStream(blas.get(), stream.get()));
    ops = CudaOps{blas.get(), stream.get()};
  }
};

// Runs f kLaunches times per iteration and records device milliseconds per call.
template <class F>
void time_device(benchmark::State& state, Gpu& gpu, F f) {
  Event start(true), stop(true);
  for (auto _ : state) {
    start.record(gpu.stream.get());
    for (int i = 0; i < kLaunches; ++i) f();
    stop.record(gpu.stream.get());
    state.SetIterationTime(stop.elapsed_ms_since(start) * 1e-3 / kLaunches);
  }
}

bool skip_without_gpu(benchmark::State& state) {
  if (cuda_status().usable) return false;
  state.SkipWithError(("no usable CUDA device: " + cuda_status().reason).c_str());
  for (auto _ : state) {}
  return true;
}

void BM_CublasForward(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int n_out = int(state.range(0)), m = int(state.range(1)), n_in = 784;
  Gpu gpu;
  DeviceBuffer<float> W(size_t(n_out) * n_in), X(size_t(n_in) * m), Z(size_t(n_out) * m);
  time_device(state, gpu, [&] {
    gpu.ops.gemm(false, false, n_out, m, n_in, 1.0f, W.data(), n_out, 0, X.data(), n_in, 0, 0.0f, Z.data(), n_out, 0,
                 1);
  });
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n_out * m * n_in, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CublasUpdate(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int n_out = int(state.range(0)), m = int(state.range(1)), n_in = 784;
  Gpu gpu;
  DeviceBuffer<float> W(size_t(n_out) * n_in), X(size_t(n_in) * m), D(size_t(n_out) * m);
  time_device(state, gpu, [&] {
    gpu.ops.gemm(false, true, n_out, n_in, m, -0.3f, D.data(), n_out, 0, X.data(), n_in, 0, 1.0f, W.data(), n_out, 0,
                 1);
  });
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n_out * m * n_in, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_BiasSigmoidKernel(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int n = int(state.range(0)), m = int(state.range(1));
  Gpu gpu;
  DeviceBuffer<float> b(n), a(size_t(n) * m);
  time_device(state, gpu, [&] { gpu.ops.bias_sigmoid(n, m, b.data(), 0, a.data(), 0, 1); });
  state.counters["GB/s"] = benchmark::Counter(8.0 * n * m, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_GatherKernel(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int m = int(state.range(1));
  const size_t images = 50000, dim = 784;
  Gpu gpu;
  DeviceBuffer<uint8_t> pixels(images * dim), labels(images), labels_out(m);
  DeviceBuffer<uint32_t> idx(m);
  std::vector<uint32_t> host(m);
  for (int j = 0; j < m; ++j) host[j] = uint32_t(j * 997 % images);
  idx.upload(host.data(), m, gpu.stream.get());
  DeviceBuffer<float> x(dim * m);
  time_device(state, gpu, [&] {
    gpu.ops.gather(pixels.data(), labels.data(), dim, idx.data(), 0, m, x.data(), 0, labels_out.data(), 0, 1);
  });
  state.counters["GB/s"] = benchmark::Counter(5.0 * dim * m, benchmark::Counter::kIsIterationInvariantRate);
}

// One eager SGD step of 784-H-10 (gather, forward, backward, update) for one network (K = 1, as
// the backend runs a single network): launch-bound at m = 10. The step's scalars (eta = 3, no
// L2) in device memory, as the backend keeps them.
void BM_EagerStep(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int hidden = int(state.range(0)), m = int(state.range(1));
  Gpu gpu;
  const std::vector<size_t> sizes = {784, size_t(hidden), 10};
  const StepLayout layout = step_layout(sizes, size_t(m));
  DeviceBuffer<float> params(layout.param_stride), work(layout.work_stride);
  DeviceBuffer<uint8_t> pixels(size_t(m) * 784), labels(m), labels_out(m);
  BP_CUDA_CHECK(cudaMemsetAsync(params.data(), 0, params.size() * sizeof(float), gpu.stream.get()));
  BP_CUDA_CHECK(cudaMemsetAsync(pixels.data(), 0, pixels.size(), gpu.stream.get()));
  BP_CUDA_CHECK(cudaMemsetAsync(labels.data(), 0, size_t(m), gpu.stream.get()));
  DeviceBuffer<uint32_t> idx(m);
  std::vector<uint32_t> host(m);
  for (int j = 0; j < m; ++j) host[j] = uint32_t(j);
  idx.upload(host.data(), m, gpu.stream.get());
  DeviceBuffer<double> cost(1);
  BP_CUDA_CHECK(cudaMemsetAsync(cost.data(), 0, sizeof(double), gpu.stream.get()));
  Hyper h;
  h.n = 50000;
  const StepScalars scalars = step_scalars({&h, 1}, m);
  DeviceBuffer<float> d_scalars(scalars.values.size());
  d_scalars.upload(scalars.values.data(), scalars.values.size(), gpu.stream.get());
  StepBuffers s = step_buffers(sizes, Output::sigmoid, layout, 1, params.data(), nullptr, work.data(),
                               labels_out.data(), size_t(m));
  point_scalars(s, scalars, d_scalars.data());
  gpu.stream.synchronize();  // the setup done before the timing starts
  time_device(state, gpu, [&] {
    gpu.ops.gather(pixels.data(), labels.data(), 784, idx.data(), 0, m, s.a[0], 0, labels_out.data(), 0, 1);
    update_mini_batch(gpu.ops, s, m, h.cost, cost.data());
  });
  state.counters["us/step"] =
      benchmark::Counter(1e6, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int m : {10, 256})
    for (int hidden : {15, 30, 100, 1024}) b->Args({hidden, m});
  b->UseManualTime();
}

BENCHMARK(BM_CublasForward)->Apply(Shapes);
BENCHMARK(BM_CublasUpdate)->Apply(Shapes);
BENCHMARK(BM_BiasSigmoidKernel)->Apply(Shapes);
BENCHMARK(BM_GatherKernel)->Args({0, 10})->Args({0, 256})->UseManualTime();
BENCHMARK(BM_EagerStep)->Apply(Shapes);

}  // namespace
}  // namespace bp

BENCHMARK_MAIN();
