// The batched CUDA backend (networks trained together) against its CPU twin (CpuBatchedOps, which
// equals separate single-network runs bit for bit, test_batched.cpp) and against separate
// CpuBackend runs. Every test skips, with the reason, where no CUDA device is usable, and fails
// instead when BACKPROP_REQUIRE_GPU=1. Host copies go through the kernels' stream, then
// synchronise.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <span>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_batched_ops.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_batched_backend.hpp"
#include "cuda/cuda_batched_ops.hpp"
#include "cuda_test_helpers.hpp"
#include "helpers.hpp"
#include "model/batched_step.hpp"
#include "model/rng.hpp"
#include "reference/compare.hpp"

namespace bp {
namespace {

using test::kPoison;
using test::random_floats;
using test::to_device;
using test::to_host;

// Element by element within rel (of max(|expected|, 1)); a NaN where the CPU has a number was
// never written, and a NaN the CPU kept (a gap between networks' matrices, never written by
// either) must stay one.
void expect_close(const std::vector<float>& expected, const std::vector<float>& got, double rel, const std::string& what) {
  ASSERT_EQ(expected.size(), got.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << what << ": element " << i << " (a gap) was written";
      continue;
    }
    ASSERT_FALSE(std::isnan(got[i])) << what << ": element " << i << " was never written";
    const double diff = std::abs(double(got[i]) - double(expected[i]));
    worst = std::max(worst, diff / std::max(1.0, double(std::abs(expected[i]))));
    ASSERT_NEAR(got[i], expected[i], rel * std::max(1.0, double(std::abs(expected[i])))) << what << " [" << i << "]";
  }
  std::cout << what << ": largest relative difference " << worst << "\n";
}

// Every op of the batched set, CUDA against CPU, on K = 5 networks whose operands sit at strides
// wider than the matrices (the gaps poisoned, and required to stay so), outputs poisoned before
// the kernels write, and scalars that differ per network (one beta of 0: C must not be read).
TEST(CudaBatchedOps, EveryOpMatchesTheCpuOps) {
  SKIP_WITHOUT_GPU();
  Stream stream;
  CublasHandle blas;
  BP_CUBLAS_CHECK(cublasSetStream(blas.get(), stream.get()));
  BP_CUBLAS_CHECK(cublasSetMathMode(blas.get(), CUBLAS_DEFAULT_MATH));
  const cudaStream_t s = stream.get();
  const size_t K = 5;
  const int n = 13, m = 7, k = 37;  // C (n, m) = A (n, k) B (k, m); the weight GEMM: (n, k) = (n, m) (k, m)^T
  const size_t stride = 32 * 20;    // > n * k and a multiple of 32
  DeviceBuffer<float> scratch(size_t(n) * k * K);
  CudaBatchedOps gpu{blas.get(), s, scratch.data(), scratch.size()};
  CpuBatchedOps cpu;
  const auto with_gaps = [&](size_t used, uint64_t seed, double scale) {
    std::vector<float> v(K * stride, kPoison);
    const std::vector<float> r = random_floats(K * stride, seed, scale);
    for (size_t i = 0; i < K; ++i) std::copy_n(r.begin() + i * stride, used, v.begin() + i * stride);
    return v;
  };
  std::vector<float> alpha = random_floats(K, 1), beta = random_floats(K, 2);
  beta[3] = 0.0f;
  const auto d_alpha = to_device(alpha, s), d_beta = to_device(beta, s);
  const std::vector<float> A = with_gaps(size_t(n) * k, 3, 1.0), B = with_gaps(size_t(k) * m, 4, 1.0);
  const std::vector<float> D = with_gaps(size_t(n) * m, 5, 1.0), X = with_gaps(size_t(k) * m, 6, 1.0);
  const auto dA = to_device(A, s), dB = to_device(B, s), dD = to_device(D, s), dX = to_device(X, s);

  {  // forward GEMM, C poisoned (beta 0 must not read it)
    std::vector<float> C = with_gaps(0, 7, 1.0);
    for (size_t i = 0; i < K; ++i) std::fill_n(C.begin() + i * stride, n * m, kPoison);
    auto dC = to_device(C, s);
    cpu.gemm(false, false, n, m, k, 1.0f, A.data(), n, stride, B.data(), k, stride, 0.0f, C.data(), n, stride, K);
    gpu.gemm(false, false, n, m, k, 1.0f, dA.data(), n, stride, dB.data(), k, stride, 0.0f, dC.data(), n, stride, K);
    expect_close(C, to_host(dC, s), 1e-5, "gemm");
  }
  {  // the same with a shared B (stride 0), as evaluation runs it
    std::vector<float> C(K * stride, kPoison);
    auto dC = to_device(C, s);
    cpu.gemm(false, false, n, m, k, 1.0f, A.data(), n, stride, B.data(), k, 0, 0.0f, C.data(), n, stride, K);
    gpu.gemm(false, false, n, m, k, 1.0f, dA.data(), n, stride, dB.data(), k, 0, 0.0f, dC.data(), n, stride, K);
    expect_close(C, to_host(dC, s), 1e-5, "gemm, shared B");
  }
  {  // the weight update: W_k = beta[k] W_k + alpha[k] D_k X_k^T; network 3 has beta 0 and a poisoned W
    std::vector<float> W = with_gaps(size_t(n) * k, 8, 1.0);
    std::fill_n(W.begin() + 3 * stride, n * k, kPoison);
    auto dW = to_device(W, s);
    cpu.gemm_scaled(false, true, n, k, m, alpha.data(), D.data(), n, stride, X.data(), k, stride, beta.data(), W.data(), n, stride, K);
    gpu.gemm_scaled(false, true, n, k, m, d_alpha.data(), dD.data(), n, stride, dX.data(), k, stride, d_beta.data(), dW.data(), n, stride, K);
    expect_close(W, to_host(dW, s), 1e-5, "gemm_scaled");
  }
  {  // bias + sigmoid / softmax in place
    const std::vector<float> b = with_gaps(n, 9, 1.0);
    const auto db = to_device(b, s);
    for (const bool softmax : {false, true}) {
      std::vector<float> a = with_gaps(size_t(n) * m, 10, 3.0);
      auto da = to_device(a, s);
      if (softmax) {
        cpu.bias_softmax(n, m, b.data(), stride, a.data(), stride, K);
        gpu.bias_softmax(n, m, db.data(), stride, da.data(), stride, K);
      } else {
        cpu.bias_sigmoid(n, m, b.data(), stride, a.data(), stride, K);
        gpu.bias_sigmoid(n, m, db.data(), stride, da.data(), stride, K);
      }
      expect_close(a, to_host(da, s), 1e-6, softmax ? "bias_softmax" : "bias_sigmoid");
    }
  }
  {  // output delta (d poisoned) with per-network labels and cost sums; hidden delta
    std::vector<float> a = with_gaps(size_t(n) * m, 11, 1.0);
    for (float& x : a) x = std::isnan(x) ? x : 1.0f / (1.0f + std::exp(-x));
    std::vector<uint8_t> labels(K * 16);
    Rng rng(12);
    for (uint8_t& l : labels) l = uint8_t(rng.below(n));
    const auto da = to_device(a, s);
    const auto dl = to_device(labels, s);
    for (const Cost cost : {Cost::quadratic, Cost::cross_entropy, Cost::log_likelihood}) {
      std::vector<float> d(K * stride, kPoison);
      std::vector<double> sums(K, 0.5);
      auto dd = to_device(d, s);
      auto dsums = to_device(sums, s);
      cpu.output_delta(cost, n, m, a.data(), stride, labels.data(), 16, d.data(), stride, sums.data(), K);
      gpu.output_delta(cost, n, m, da.data(), stride, dl.data(), 16, dd.data(), stride, dsums.data(), K);
      expect_close(d, to_host(dd, s), 1e-6, "output_delta " + cost_name(cost));
      const std::vector<double> got = to_host(dsums, s);
      for (size_t i = 0; i < K; ++i) EXPECT_NEAR(got[i], sums[i], 1e-5 * std::abs(sums[i])) << "cost of network " << i;
    }
    std::vector<float> d = D;
    auto dd = to_device(d, s);
    cpu.hidden_delta(n, m, a.data(), stride, d.data(), stride, K);
    gpu.hidden_delta(n, m, da.data(), stride, dd.data(), stride, K);
    expect_close(d, to_host(dd, s), 1e-6, "hidden_delta");
  }
  {  // row sums into biases (network 3: beta 0, poisoned c), scaled axpy, flat axpy
    std::vector<float> c = with_gaps(n, 13, 1.0);
    std::fill_n(c.begin() + 3 * stride, n, kPoison);
    auto dc = to_device(c, s);
    cpu.add_row_sums(n, m, alpha.data(), D.data(), stride, beta.data(), c.data(), stride, K);
    gpu.add_row_sums(n, m, d_alpha.data(), dD.data(), stride, d_beta.data(), dc.data(), stride, K);
    expect_close(c, to_host(dc, s), 1e-5, "add_row_sums");
    std::vector<float> y = with_gaps(size_t(n) * k, 14, 1.0);
    auto dy = to_device(y, s);
    cpu.axpy_scaled(size_t(n) * k, alpha.data(), A.data(), stride, y.data(), stride, K);
    gpu.axpy_scaled(size_t(n) * k, d_alpha.data(), dA.data(), stride, dy.data(), stride, K);
    expect_close(y, to_host(dy, s), 1e-6, "axpy_scaled");
  }
  {  // gather with per-network index lists into strided columns, shifted samples too
    const LabelledImages images = synthetic_images(300, 28, 28, 10, 15);
    const auto pixels = to_device(images.pixels, s);
    const auto labels = to_device(images.labels, s);
    const size_t dim = 784, si = 50, sx = dim * 9 + 32;
    for (const bool shifted : {false, true}) {
      const DataView view = shifted ? images.view().shifted() : images.view();
      std::vector<uint32_t> idx(K * si);
      Rng rng(16);
      for (uint32_t& i : idx) i = uint32_t(rng.below(view.samples()));
      const auto didx = to_device(idx, s);
      std::vector<float> x(K * sx, kPoison);
      std::vector<uint8_t> out(K * 16, 255);
      auto dx = to_device(x, s);
      auto dout = to_device(out, s);
      cpu.gather(images.pixels.data(), images.labels.data(), dim, idx.data(), si, 9, x.data(), sx, out.data(), 16, K,
                 view.expansion());
      gpu.gather(pixels.data(), labels.data(), dim, didx.data(), si, 9, dx.data(), sx, dout.data(), 16, K, view.expansion());
      expect_close(x, to_host(dx, s), 0.0, shifted ? "gather, shifted" : "gather");
      EXPECT_EQ(to_host(dout, s), out);
    }
  }
}

struct Group {
  std::vector<Network> start;
  std::vector<Hyper> hypers;
  std::vector<uint32_t> orders;
};

Group make_group(size_t K, Cost cost, bool momentum, size_t n, size_t length, uint64_t seed) {
  Group g;
  for (size_t k = 0; k < K; ++k) {
    Hyper h;
    h.cost = cost;
    // eta up to the single-network tests' values (3 quadratic, 0.5 otherwise; 0.1 with momentum)
    h.eta = (momentum ? 0.1 : cost == Cost::quadratic ? 3.0 : 0.5) * double(k + 1) / double(K);
    h.lambda = double(k % 3) * 2.5;
    h.momentum = momentum ? 0.5 + 0.1 * double(k % 4) : 0.0;
    h.n = n;
    g.hypers.push_back(h);
    g.start.push_back(initialise({784, 30, 10}, Init::scaled, seed + k, output_layer(cost)));
    const auto o = epoch_permutation(seed + k, 0, n);
    g.orders.insert(g.orders.end(), o.begin(), o.begin() + length);
  }
  return g;
}

// K = 3..8 networks of 784-30-10, each with its own seed, eta, lambda (and mu), 102 steps (101 of
// 10 and a last one of 5, which needs its own -eta/m) on the GPU together and on the CPU one by
// one: the parameters within the 1e-3 the single-network GPU test allows, the velocities within
// 1e-4, the costs within 1e-4 relative. The 101 full batches are a warm-up step and one replay of
// a captured 100-step graph; the graphs are compared with eager steps bit for bit below.
TEST(CudaBatchedBackend, HundredStepsOfKNetworksStayWithSeparateCpuRuns) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(2000, 28, 28, 10, 17);
  for (const size_t K : {size_t(3), size_t(8)}) {
    for (const Cost cost : {Cost::quadratic, Cost::cross_entropy, Cost::log_likelihood}) {
      for (const bool momentum : {false, true}) {
        const std::string what = "K=" + std::to_string(K) + " " + cost_name(cost) + (momentum ? " momentum" : "");
        const Group g = make_group(K, cost, momentum, 2000, 1015, 30 + K);
        auto gpu = make_cuda_batched_backend();
        gpu->load(g.start, momentum);
        const std::vector<double> costs = gpu->train(images.view(), g.orders, 1015, 10, g.hypers);
        std::vector<Network> got, got_v;
        gpu->store(got);
        gpu->store_velocity(got_v);
        double worst = 0, worst_v = 0;
        for (size_t k = 0; k < K; ++k) {
          auto cpu = make_cpu_backend(1);
          cpu->load(g.start[k]);
          const double c = cpu->train(images.view(), std::span<const uint32_t>(g.orders.data() + k * 1015, 1015), 10, g.hypers[k]);
          Network want, want_v;
          cpu->store(want);
          cpu->store_velocity(want_v);
          worst = std::max(worst, compare(flat_parameters(want), flat_parameters(got[k]), 1e-3).max_abs);
          worst_v = std::max(worst_v, compare(flat_parameters(want_v), flat_parameters(got_v[k]), 1e-3).max_abs);
          EXPECT_NEAR(costs[k], c, 1e-4 * std::abs(c)) << what << " network " << k;
          EXPECT_GT(parameter_distance(g.start[k], got[k]), 1e-3) << what << " network " << k << " never moved";
        }
        std::cout << what << ": after 102 steps max |cuda batched - cpu| parameters " << worst << ", velocities "
                  << worst_v << "\n";
        EXPECT_LT(worst, 1e-3) << what;  // infinite if any parameter is NaN
        EXPECT_LT(worst_v, 1e-4) << what;
      }
    }
  }
}

// Graph replays against eager steps, bit for bit: the same launches in the same order. The first
// call (1000 samples) runs a warm-up step, captures and runs 99 eager steps; the second (2995)
// replays the graph twice from a fresh window, then 99 eager steps and a short batch of 5, with
// new eta values (read by the replays from device memory).
TEST(CudaBatchedBackend, GraphReplaysEqualEagerSteps) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(4000, 28, 28, 10, 19);
  for (const bool momentum : {false, true}) {
    Group g = make_group(5, Cost::log_likelihood, momentum, 4000, 3995, 90);
    std::vector<std::vector<Network>> result(2);
    std::vector<std::vector<double>> costs(2);
    for (int graphs = 0; graphs < 2; ++graphs) {
      std::vector<Hyper> hypers = g.hypers;
      auto gpu = make_cuda_batched_backend(graphs == 1);
      gpu->load(g.start, momentum);
      std::vector<uint32_t> first, second;
      for (size_t k = 0; k < 5; ++k) {
        first.insert(first.end(), g.orders.begin() + k * 3995, g.orders.begin() + k * 3995 + 1000);
        second.insert(second.end(), g.orders.begin() + k * 3995 + 1000, g.orders.begin() + (k + 1) * 3995);
      }
      gpu->train(images.view(), first, 1000, 10, hypers);
      for (Hyper& h : hypers) h.eta *= 0.5;
      costs[graphs] = gpu->train(images.view(), second, 2995, 10, hypers);
      gpu->store(result[graphs]);
    }
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(result[0][k].weights, result[1][k].weights) << "network " << k << (momentum ? " momentum" : "");
      EXPECT_EQ(result[0][k].biases, result[1][k].biases) << "network " << k;
      EXPECT_NEAR(costs[0][k], costs[1][k], 1e-9 * std::abs(costs[0][k]));  // atomics sum in another order
      EXPECT_GT(parameter_distance(g.start[k], result[1][k]), 1e-2) << "network " << k << " never moved";
    }
  }
}

TEST(CudaBatchedBackend, EvaluationCountsMatchTheCpuPerNetwork) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(4321, 28, 28, 10, 18);  // two chunks of 2000 and a short one
  std::vector<Network> nets;
  for (size_t k = 0; k < 4; ++k) nets.push_back(initialise({784, 30, 10}, Init::normal, 70 + k));
  auto gpu = make_cuda_batched_backend();
  gpu->load(nets, false);
  const std::vector<Evaluation> got = gpu->evaluate(images.view());
  ASSERT_EQ(got.size(), nets.size());
  for (size_t k = 0; k < nets.size(); ++k) {
    auto cpu = make_cpu_backend(1);
    cpu->load(nets[k]);
    const Evaluation want = cpu->evaluate(images.view());
    std::cout << "network " << k << ": cpu " << want.correct << ", cuda batched " << got[k].correct << " of 4321\n";
    EXPECT_GT(want.correct, 4321u / 20);
    EXPECT_LE(std::abs(double(want.correct) - double(got[k].correct)), 3.0);  // near-ties may fall either way
    size_t total = 0;
    for (size_t c : got[k].predicted) total += c;
    EXPECT_EQ(total, 4321u);
  }
}

std::map<uint64_t, std::vector<nlohmann::json>> sweep_records(const std::string& path) {
  std::ifstream in(path);
  std::map<uint64_t, std::vector<nlohmann::json>> out;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    out[j["network"].get<uint64_t>()].push_back(j);
  }
  return out;
}

// `backprop sweep --device cuda` (16 networks of two shapes in groups of at most 5, trained together)
// against `--device cpu`: every network's every epoch within tolerance. The tolerance is what
// float32 can keep here, measured against the float64 reference on these images: at eta 0.2 and
// 0.5 the CPU's costs stay within 4e-5 of the reference's and the emulated GPU's within 1.2e-3 (a
// network whose cross-entropy has saturated units); at eta 2 (this test's rate before the first
// emulated run) the CPU's own costs were 3.7e-2 from the reference, which no float32 backend
// with another order of sums could meet at 1e-3.
TEST(CudaBatchedSweep, CudaSweepGivesTheCpuSweepsAccuracies) {
  SKIP_WITHOUT_GPU();
  test::TempDir dir;
  test::write_fake_mnist(dir.path().string(), 1200, 300, 28, 28, 10, true);
  const std::string args = "sweep --data " + dir.path().string() +
                           " --train-size 1000 --validation-size 200 --layers 784,30,10 784,12,10 --eta 0.2,0.5 "
                           "--lambda 0,3 --seeds 1-2 --epochs 2 --cost cross-entropy --log ";
  const auto cpu = test::run_backprop(args + dir.file("cpu.jsonl") + " --device cpu --threads 2");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  const auto gpu = test::run_backprop(args + dir.file("gpu.jsonl") + " --device cuda --group-size 5");
  ASSERT_EQ(gpu.exit_code, 0) << gpu.output;
  EXPECT_NE(gpu.output.find("together on the GPU"), std::string::npos) << gpu.output;
  const auto a = sweep_records(dir.file("cpu.jsonl")), b = sweep_records(dir.file("gpu.jsonl"));
  ASSERT_EQ(a.size(), 16u);
  ASSERT_EQ(b.size(), a.size());
  for (const auto& [index, epochs] : a) {
    ASSERT_EQ(b.at(index).size(), epochs.size()) << index;
    for (size_t e = 0; e < epochs.size(); ++e) {
      const auto &x = epochs[e], &y = b.at(index)[e];
      EXPECT_LE(std::abs(x["validation_correct"].get<double>() - y["validation_correct"].get<double>()), 4.0)
          << "network " << index << " epoch " << e;  // 2% of 200: near-ties on random images
      EXPECT_NEAR(x["training_cost"].get<double>(), y["training_cost"].get<double>(),
                  5e-3 * std::abs(x["training_cost"].get<double>()))
          << "network " << index << " epoch " << e;
    }
  }
}

}  // namespace
}  // namespace bp
