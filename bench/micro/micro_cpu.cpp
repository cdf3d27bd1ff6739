// Google Benchmark for each CPU primitive of the step at the trainer's shapes: the three GEMMs of
// a layer (forward W a, backward W^T d, update W += a d a^T) at mini-batch 10 and 256 and hidden
// widths 15, 30, 100 and 1024, and the elementwise operations. Counters: GFLOP/s for GEMMs, GB/s
// (bytes read plus written) for the rest. Inputs are MNIST-like (80% zero pixels) where the
// first layer reads images, since the forward GEMM exploits that (GFLOP/s counts the dense
// product, so the sparse forward reads as a rate above what its arithmetic runs at).
#include <benchmark/benchmark.h>

#include <vector>

#include "cpu/cpu_gemm.hpp"
#include "cpu/cpu_ops.hpp"
#include "model/rng.hpp"

namespace bp {
namespace {

std::vector<float> random_matrix(size_t n, uint64_t seed, double zero_fraction = 0.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform() < zero_fraction ? 0.0f : float(rng.uniform());
  return v;
}

// args: hidden width, mini-batch. Layer 784 -> hidden.
void BM_ForwardGemm(benchmark::State& state) {
  const int n_out = int(state.range(0)), m = int(state.range(1)), n_in = 784;
  const auto W = random_matrix(size_t(n_out) * n_in, 1), X = random_matrix(size_t(n_in) * m, 2, 0.8);
  std::vector<float> Z(size_t(n_out) * m);
  for (auto _ : state) {
    cpu_gemm(false, false, n_out, m, n_in, 1.0f, W.data(), n_out, X.data(), n_in, 0.0f, Z.data(), n_out);
    benchmark::DoNotOptimize(Z.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n_out * m * n_in * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_UpdateGemm(benchmark::State& state) {
  const int n_out = int(state.range(0)), m = int(state.range(1)), n_in = 784;
  const auto D = random_matrix(size_t(n_out) * m, 3), X = random_matrix(size_t(n_in) * m, 4, 0.8);
  auto W = random_matrix(size_t(n_out) * n_in, 5);
  for (auto _ : state) {
    cpu_gemm(false, true, n_out, n_in, m, -0.3f / float(m), D.data(), n_out, X.data(), n_in, 1.0f, W.data(), n_out);
    benchmark::DoNotOptimize(W.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n_out * m * n_in * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// Backward through the output layer: d_hidden (hidden, m) = W2^T (10, hidden) d_out (10, m).
void BM_BackwardGemm(benchmark::State& state) {
  const int hidden = int(state.range(0)), m = int(state.range(1)), n_out = 10;
  const auto W = random_matrix(size_t(n_out) * hidden, 6), D = random_matrix(size_t(n_out) * m, 7);
  std::vector<float> out(size_t(hidden) * m);
  for (auto _ : state) {
    cpu_gemm(true, false, hidden, m, n_out, 1.0f, W.data(), n_out, D.data(), n_out, 0.0f, out.data(), hidden);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * hidden * m * n_out * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_BiasSigmoid(benchmark::State& state) {
  const int n = int(state.range(0)), m = int(state.range(1));
  const auto b = random_matrix(size_t(n), 8);
  auto a = random_matrix(size_t(n) * m, 9);
  CpuOps ops;
  for (auto _ : state) {
    ops.bias_sigmoid(n, m, b.data(), a.data());
    benchmark::DoNotOptimize(a.data());
  }
  state.counters["GB/s"] = benchmark::Counter(8.0 * n * m * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_HiddenDelta(benchmark::State& state) {
  const int n = int(state.range(0)), m = int(state.range(1));
  const auto a = random_matrix(size_t(n) * m, 10);
  auto d = random_matrix(size_t(n) * m, 11);
  CpuOps ops;
  for (auto _ : state) {
    ops.hidden_delta(n, m, a.data(), d.data());
    benchmark::DoNotOptimize(d.data());
  }
  state.counters["GB/s"] = benchmark::Counter(12.0 * n * m * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_Gather(benchmark::State& state) {
  const int m = int(state.range(1));
  const size_t images = 50000, dim = 784;
  std::vector<uint8_t> pixels(images * dim, 7), labels(images, 3), labels_out(m);
  std::vector<float> x(dim * m);
  const auto order = epoch_permutation(1, 0, images);
  CpuOps ops;
  size_t at = 0;
  for (auto _ : state) {
    ops.gather(pixels.data(), labels.data(), dim, order.data() + at, m, x.data(), labels_out.data());
    at = (at + m) % (images - m);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["GB/s"] = benchmark::Counter(5.0 * dim * m * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int m : {10, 256})
    for (int hidden : {15, 30, 100, 1024}) b->Args({hidden, m});
}

BENCHMARK(BM_ForwardGemm)->Apply(Shapes);
BENCHMARK(BM_UpdateGemm)->Apply(Shapes);
BENCHMARK(BM_BackwardGemm)->Apply(Shapes);
BENCHMARK(BM_BiasSigmoid)->Apply(Shapes);
BENCHMARK(BM_HiddenDelta)->Apply(Shapes);
BENCHMARK(BM_Gather)->Args({0, 10})->Args({0, 256});

}  // namespace
}  // namespace bp

BENCHMARK_MAIN();
