// The CUDA backend against its CPU twins and the float64 reference. Every test skips, with the
// reason, where no CUDA device is usable, and fails instead when BACKPROP_REQUIRE_GPU=1 (the GPU
// check script sets it, so a machine with a GPU can never pass these vacuously). Host copies go
// through the stream the kernels run on, then synchronise: the kernels' stream is non-blocking,
// so nothing would order copies on the legacy default stream against them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <span>

#include "reference/compare.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_ops.hpp"
#include "cuda/cuda_ops.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_status.hpp"
#include "cuda_test_helpers.hpp"
#if defined(BACKPROP_CUDA_EMULATION)
#include "backprop_emu/control.hpp"
#endif
#include "helpers.hpp"
#include "reference/reference.hpp"
#include "model/rng.hpp"
#include "train/trainer.hpp"

namespace bp {
namespace {

using test::kPoison;
using test::random_floats;
using test::to_device;
using test::to_host;

DeviceBuffer<float> poisoned(size_t n, cudaStream_t s) { return to_device(std::vector<float>(n, kPoison), s); }

// Every element within rel (of max(|expected|, 1)) of its CPU twin, and none left NaN.
void expect_close(const std::vector<float>& expected, const std::vector<float>& got, double rel, const std::string& what) {
  ASSERT_EQ(expected.size(), got.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << what << ": element " << i << " was never written";
    ASSERT_NEAR(got[i], expected[i], rel * std::max(1.0, double(std::abs(expected[i])))) << what << " [" << i << "]";
  }
}

class CudaKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_status().usable) return;
    blas_ = std::make_unique<CublasHandle>();
    BP_CUBLAS_CHECK(cublasSetStream(blas_->get(), stream_->get()));
    ops_ = CudaOps{blas_->get(), stream_->get()};
  }
  void sync() { stream_->synchronize(); }
  template <class T>
  DeviceBuffer<T> to_device(const std::vector<T>& host) { return bp::to_device(host, stream_->get()); }
  template <class T>
  std::vector<T> to_host(const DeviceBuffer<T>& d) { return bp::to_host(d, stream_->get()); }
  DeviceBuffer<float> poisoned(size_t n) { return bp::poisoned(n, stream_->get()); }
  std::unique_ptr<Stream> stream_ = cuda_status().usable ? std::make_unique<Stream>() : nullptr;
  std::unique_ptr<CublasHandle> blas_;
  CudaOps ops_{};
  CpuOps cpu_;
};

TEST_F(CudaKernels, ElementwiseMatchTheirCpuTwins) {
  SKIP_WITHOUT_GPU();
  for (const auto& [n, m] : {std::pair{37, 13}, std::pair{10, 10}, std::pair{1, 1}, std::pair{301, 257}}) {
    const std::string shape = std::to_string(n) + "x" + std::to_string(m);
    const std::vector<float> z = random_floats(size_t(n) * m, n * 7 + m, 3.0), b = random_floats(n, n + m);
    std::vector<uint8_t> labels(m);
    Rng rng(m);
    for (uint8_t& l : labels) l = uint8_t(rng.below(n));
    auto d_b = to_device(b);
    auto d_labels = to_device(labels);

    std::vector<float> a = z;
    cpu_.bias_sigmoid(n, m, b.data(), a.data());
    auto d_a = to_device(z);
    ops_.bias_sigmoid(n, m, d_b.data(), d_a.data());
    sync();
    expect_close(a, to_host(d_a), 1e-6, "bias_sigmoid " + shape);

    std::vector<float> soft = z;  // in place, like bias_sigmoid; every column must come out summing to 1
    cpu_.bias_softmax(n, m, b.data(), soft.data());
    auto d_soft = to_device(z);
    ops_.bias_softmax(n, m, d_b.data(), d_soft.data());
    sync();
    expect_close(soft, to_host(d_soft), 1e-6, "bias_softmax " + shape);

    for (Cost cost : {Cost::quadratic, Cost::cross_entropy, Cost::log_likelihood}) {
      const bool softmax = output_layer(cost) == Output::softmax;
      std::vector<float> d(size_t(n) * m);
      double cpu_cost = 0;
      cpu_.output_delta(cost, n, m, softmax ? soft.data() : a.data(), labels.data(), d.data(), &cpu_cost);
      auto d_d = poisoned(d.size());
      DeviceBuffer<double> d_cost(1);
      BP_CUDA_CHECK(cudaMemsetAsync(d_cost.data(), 0, sizeof(double), stream_->get()));
      ops_.output_delta(cost, n, m, softmax ? d_soft.data() : d_a.data(), d_labels.data(), d_d.data(), d_cost.data());
      sync();
      expect_close(d, to_host(d_d), 1e-6, "output_delta " + shape);
      EXPECT_NEAR(to_host(d_cost)[0], cpu_cost, 1e-5 * std::abs(cpu_cost)) << "cost " << shape;
    }

    std::vector<float> delta = random_floats(size_t(n) * m, 99);
    auto d_delta = to_device(delta);
    cpu_.hidden_delta(n, m, a.data(), delta.data());
    ops_.hidden_delta(n, m, d_a.data(), d_delta.data());
    sync();
    expect_close(delta, to_host(d_delta), 1e-6, "hidden_delta " + shape);

    for (float beta : {0.0f, 0.5f}) {
      std::vector<float> c = beta == 0 ? std::vector<float>(n, kPoison) : random_floats(n, 5);
      auto d_c = to_device(c);
      cpu_.add_row_sums(n, m, -0.25f, delta.data(), beta, c.data());
      ops_.add_row_sums(n, m, -0.25f, d_delta.data(), beta, d_c.data());
      sync();
      expect_close(c, to_host(d_c), 1e-5, "add_row_sums " + shape);
    }

    EXPECT_EQ(ops_.count_correct(n, m, d_a.data(), d_labels.data()), cpu_.count_correct(n, m, a.data(), labels.data()))
        << shape;

    // axpy updates in place (no output to poison); a fresh y so both sides start from the same values.
    std::vector<float> y = random_floats(size_t(n) * m, 77);
    auto d_y = to_device(y);
    cpu_.axpy(y.size(), -0.3f, z.data(), y.data());
    auto d_z = to_device(z);
    ops_.axpy(y.size(), -0.3f, d_z.data(), d_y.data());
    sync();
    expect_close(y, to_host(d_y), 1e-6, "axpy " + shape);
  }
}

TEST_F(CudaKernels, GatherMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(500, 28, 28, 10, 4);
  const std::vector<uint32_t> idx = {499, 0, 17, 17, 250, 3, 101};
  const int m = int(idx.size());
  std::vector<float> x(784 * m);
  std::vector<uint8_t> labels(m);
  cpu_.gather(images.pixels.data(), images.labels.data(), 784, idx.data(), m, x.data(), labels.data());
  auto d_pixels = to_device(images.pixels);
  auto d_labels_in = to_device(images.labels);
  auto d_idx = to_device(idx);
  auto d_x = poisoned(x.size());
  DeviceBuffer<uint8_t> d_labels(m);
  ops_.gather(d_pixels.data(), d_labels_in.data(), 784, d_idx.data(), m, d_x.data(), d_labels.data());
  sync();
  EXPECT_EQ(to_host(d_x), x);  // bit-identical: the same normalise_pixel on both sides
  EXPECT_EQ(to_host(d_labels), labels);
}

// More samples than gridDim.y may hold (65,535): the kernel loops over the rest.
TEST_F(CudaKernels, GatherTakesBatchesBeyondTheGridLimit) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(1000, 3, 1, 10, 5);
  const int m = 70001;
  std::vector<uint32_t> idx(m);
  Rng rng(6);
  for (uint32_t& i : idx) i = uint32_t(rng.below(1000));
  std::vector<float> x(3 * size_t(m));
  std::vector<uint8_t> labels(m);
  cpu_.gather(images.pixels.data(), images.labels.data(), 3, idx.data(), m, x.data(), labels.data());
  auto d_pixels = to_device(images.pixels);
  auto d_labels_in = to_device(images.labels);
  auto d_idx = to_device(idx);
  auto d_x = poisoned(x.size());
  auto d_labels = to_device(std::vector<uint8_t>(m, 255));
  ops_.gather(d_pixels.data(), d_labels_in.data(), 3, d_idx.data(), m, d_x.data(), d_labels.data());
  sync();
  EXPECT_EQ(to_host(d_x), x);
  EXPECT_EQ(to_host(d_labels), labels);
}

// Shifted samples (chapter 6's expansion) gathered on the device equal the CPU's, which the CPU
// tests check against shifted copies made directly; 5 x 7 images so rows and columns differ.
TEST_F(CudaKernels, ShiftedGatherMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(40, 5, 7, 10, 6);
  const Expansion e{40, 7};
  const std::vector<uint32_t> idx = {0, 41, 82, 123, 164, 199, 39, 80, 121, 162, 7};  // every variant
  const int m = int(idx.size());
  std::vector<float> x(35 * m);
  std::vector<uint8_t> labels(m);
  cpu_.gather(images.pixels.data(), images.labels.data(), 35, idx.data(), m, x.data(), labels.data(), e);
  auto d_pixels = to_device(images.pixels);
  auto d_labels_in = to_device(images.labels);
  auto d_idx = to_device(idx);
  auto d_x = poisoned(x.size());
  auto d_labels = to_device(std::vector<uint8_t>(m, 255));
  ops_.gather(d_pixels.data(), d_labels_in.data(), 35, d_idx.data(), m, d_x.data(), d_labels.data(), e);
  sync();
  EXPECT_EQ(to_host(d_x), x);
  EXPECT_EQ(to_host(d_labels), labels);
}

// Per-class prediction counts (the stuck-run check) on the device equal the CPU's.
TEST_F(CudaKernels, PredictionCountsMatchCpu) {
  SKIP_WITHOUT_GPU();
  const int n = 10, m = 3000;
  const std::vector<float> a = random_floats(size_t(n) * m, 21);
  std::vector<uint8_t> labels(m);
  Rng rng(22);
  for (uint8_t& l : labels) l = uint8_t(rng.below(n));
  std::vector<uint64_t> want(n + 1, 0);
  cpu_.count_predictions(n, m, a.data(), labels.data(), want.data());
  auto d_a = to_device(a);
  auto d_labels = to_device(labels);
  DeviceBuffer<unsigned long long> d_counts(n + 1);
  BP_CUDA_CHECK(cudaMemsetAsync(d_counts.data(), 0, (n + 1) * sizeof(unsigned long long), stream_->get()));  // the kernel adds to it
  ops_.count_predictions(n, m, d_a.data(), d_labels.data(), d_counts.data());
  sync();
  const std::vector<unsigned long long> got = to_host(d_counts);
  EXPECT_EQ(std::vector<uint64_t>(got.begin(), got.end()), want);
}

TEST_F(CudaKernels, GemmsMatchTheCpuWithTheSameArguments) {
  SKIP_WITHOUT_GPU();
  struct Shape { bool ta, tb; int m, n, k; };
  for (const Shape s : {Shape{false, false, 30, 10, 784}, Shape{false, true, 30, 784, 10}, Shape{true, false, 30, 10, 10},
                        Shape{true, true, 17, 9, 33}, Shape{false, false, 1, 1, 1}}) {
    const int lda = s.ta ? s.k : s.m, ldb = s.tb ? s.n : s.k;
    const auto A = random_floats(size_t(lda) * (s.ta ? s.m : s.k), 1), B = random_floats(size_t(ldb) * (s.tb ? s.k : s.n), 2);
    for (float beta : {0.0f, 0.9f}) {
      std::vector<float> C = beta == 0 ? std::vector<float>(size_t(s.m) * s.n, kPoison) : random_floats(size_t(s.m) * s.n, 3);
      auto dA = to_device(A), dB = to_device(B), dC = to_device(C);
      cpu_gemm(s.ta, s.tb, s.m, s.n, s.k, -0.5f, A.data(), lda, B.data(), ldb, beta, C.data(), s.m);
      ops_.gemm(s.ta, s.tb, s.m, s.n, s.k, -0.5f, dA.data(), lda, dB.data(), ldb, beta, dC.data(), s.m);
      sync();
      expect_close(C, to_host(dC), 1e-4, "gemm k=" + std::to_string(s.k));
    }
  }
}

struct Case {
  std::vector<size_t> sizes;
  Cost cost;
  double lambda;
};

TEST(CudaBackend, GradientMatchesReference) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 30;
  for (const Case& c : {Case{{784, 30, 10}, Cost::quadratic, 0.0}, Case{{784, 30, 10}, Cost::cross_entropy, 5.0},
                        Case{{9, 8, 6, 5, 3}, Cost::quadratic, 1.0}, Case{{100, 33, 17, 10}, Cost::cross_entropy, 0.0},
                        Case{{784, 15, 10}, Cost::log_likelihood, 5.0}, Case{{9, 8, 6, 5, 3}, Cost::log_likelihood, 0.0}}) {
    const LabelledImages images = synthetic_images(64, c.sizes.front(), 1, c.sizes.back(), seed);
    std::vector<uint32_t> batch = {5, 9, 63, 0, 12, 12, 40, 33, 21, 7, 2};
    Hyper h;
    h.cost = c.cost;
    h.lambda = c.lambda;
    h.n = 64;
    const Network net = initialise(c.sizes, Init::scaled, seed++, output_layer(c.cost));
    auto gpu = make_cuda_backend(false);
    gpu->load(net);
    Network g;
    gpu->gradient(images.view(), batch, h, g);
    reference::Params exact;
    reference::gradient(reference::from_network(net), images.view(), batch, h, exact);
    const auto expected = reference::flat(exact), got = flat_parameters(g);
    const Comparison cmp = compare(expected, got, 1e-3);
    print_comparison(std::cout, "cuda gradient " + format_layers(c.sizes) + " " + cost_name(c.cost), expected, got, cmp,
                     1e-4);
    EXPECT_LT(cmp.max_rel, 1e-4);
  }
}

// Parameters after training on the first `samples` samples of a permutation, in batches of 10,
// on the given backend. On the CUDA backend (resident, graphs on) the first step of a train()
// call runs eagerly as a warm-up, then kGraphSteps = 100 steps are captured and replayed at once
// while at least 100 full batches remain, and the rest run eagerly: 1,000 samples (100 steps)
// never replay a graph; kReplayOnce = 1,010 samples (101 steps) replay one.
constexpr size_t kReplayOnce = 1010;

Network train_steps(Backend& backend, const Network& start, const DataView& data, size_t samples, const Hyper& h) {
  backend.load(start);
  const auto order = epoch_permutation(7, 0, data.samples());
  backend.train(data, std::span<const uint32_t>(order.data(), samples), 10, h);
  Network out;
  backend.store(out);
  return out;
}

TEST(CudaBackend, HundredStepsStayWithTheCpu) {
  SKIP_WITHOUT_GPU();
  for (Cost cost : {Cost::quadratic, Cost::cross_entropy, Cost::log_likelihood}) {
    const LabelledImages images = synthetic_images(2000, 28, 28, 10, 8);
    Hyper h;
    h.cost = cost;
    h.eta = cost == Cost::quadratic ? 3.0 : 0.5;
    h.lambda = cost == Cost::quadratic ? 0.0 : 5.0;
    h.n = 2000;
    const Network start = initialise({784, 30, 10}, Init::scaled, 9, output_layer(cost));
    auto cpu = make_cpu_backend(1);
    auto gpu = make_cuda_backend(false);
    const Network a = train_steps(*cpu, start, images.view(), kReplayOnce, h);
    const Network b = train_steps(*gpu, start, images.view(), kReplayOnce, h);  // a warm-up step, one graph replay
    const auto pa = flat_parameters(a), pb = flat_parameters(b);
    const double worst = compare(pa, pb, 1e-3).max_abs;  // infinite if any parameter is NaN
    std::cout << cost_name(cost) << ": after 101 steps max |cuda - cpu| = " << worst << "\n";
    EXPECT_LT(worst, 1e-3);
  }
}

// Momentum on the device (101 steps: a warm-up step and one replay of the captured graph) against
// the CPU, parameters and velocities; and velocities carried from one CUDA backend to another
// continue the run.
TEST(CudaBackend, MomentumStaysWithTheCpu) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(2000, 28, 28, 10, 11);
  Hyper h;
  h.cost = Cost::log_likelihood;
  h.eta = 0.1;
  h.lambda = 5.0;
  h.momentum = 0.9;
  h.n = 2000;
  const Network start = initialise({784, 30, 10}, Init::scaled, 11, Output::softmax);
  auto cpu = make_cpu_backend(1);
  auto gpu = make_cuda_backend(false);
  const Network a = train_steps(*cpu, start, images.view(), kReplayOnce, h);
  const Network b = train_steps(*gpu, start, images.view(), kReplayOnce, h);
  Network va, vb;
  cpu->store_velocity(va);
  gpu->store_velocity(vb);
  const auto compare_flat = [](const Network& x, const Network& y) {
    return compare(flat_parameters(x), flat_parameters(y), 1e-3).max_abs;  // infinite if any is NaN
  };
  const double worst_p = compare_flat(a, b), worst_v = compare_flat(va, vb);
  std::cout << "momentum, after 101 steps max |cuda - cpu|: parameters " << worst_p << ", velocities " << worst_v
            << "\n";
  EXPECT_LT(worst_p, 1e-3);
  EXPECT_LT(worst_v, 1e-4);
  EXPECT_GT(parameter_distance(zero_network(start.sizes), vb), 1e-3) << "the velocities never moved";

  // Carry parameters and velocities to a fresh backend and take 100 more steps on both: gpu
  // replays the graph it captured (same shapes and scalars) from the first step, the fresh one
  // warms up, captures and runs the other 99 eagerly, which are the same launches.
  auto resumed = make_cuda_backend(false);
  resumed->load(b);
  resumed->load_velocity(vb);
  const auto order = epoch_permutation(8, 0, 2000);
  const std::span<const uint32_t> more(order.data(), 1000);
  gpu->train(images.view(), more, 10, h);
  resumed->train(images.view(), more, 10, h);
  Network c, d;
  gpu->store(c);
  resumed->store(d);
  EXPECT_LT(compare_flat(c, d), 1e-5);
}

TEST(CudaBackend, ResidentAndStreamedGiveIdenticalParameters) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(3000, 28, 28, 10, 10);
  Hyper h;
  h.n = 3000;
  const Network start = initialise({784, 30, 10}, Init::normal, 10);
  auto resident = make_cuda_backend(false);
  auto streamed = make_cuda_backend(true);
  // 2,995 samples: a warm-up step, two graph replays, 98 single steps and a short last batch of 5.
  const Network a = train_steps(*resident, start, images.view(), 2995, h);
  const Network b = train_steps(*streamed, start, images.view(), 2995, h);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.biases, b.biases);
  EXPECT_GT(parameter_distance(start, a), 1e-2);
}

// Training on shifted samples: the resident path (gather kernel, in a graph) stays with the CPU,
// the streamed path (shifted on the host) equals the resident one, and evaluation's per-class
// counts equal the CPU's.
TEST(CudaBackend, ShiftedSamplesTrainAsOnTheCpuAndEvaluationCountsAgree) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(600, 28, 28, 10, 12);
  const DataView shifted = images.view().shifted();
  Hyper h;
  h.n = shifted.samples();
  const Network start = initialise({784, 30, 10}, Init::scaled, 12);
  auto cpu = make_cpu_backend(1);
  auto resident = make_cuda_backend(false);
  auto streamed = make_cuda_backend(true);
  const Network a = train_steps(*cpu, start, shifted, kReplayOnce, h);  // 3,000 shifted samples
  const Network b = train_steps(*resident, start, shifted, kReplayOnce, h);  // a warm-up step, one graph replay
  const auto pa = flat_parameters(a), pb = flat_parameters(b);
  const double worst = compare(pa, pb, 1e-3).max_abs;  // infinite if any parameter is NaN
  std::cout << "shifted samples, after 101 steps max |cuda - cpu| = " << worst << "\n";
  EXPECT_LT(worst, 1e-3);
  const Network c = train_steps(*resident, start, shifted, 2995, h);
  const Network d = train_steps(*streamed, start, shifted, 2995, h);
  EXPECT_EQ(c.weights, d.weights);
  EXPECT_EQ(c.biases, d.biases);
  cpu->load(c);
  resident->load(c);
  const Evaluation ec = cpu->evaluate(images.view()), eg = resident->evaluate(images.view());
  EXPECT_EQ(eg.correct, ec.correct);
  EXPECT_EQ(eg.predicted, ec.predicted);
}

TEST(CudaBackend, OneMnistEpochMatchesCpuAccuracy) {
  SKIP_WITHOUT_GPU();
  const std::string dir = test::required_mnist_dir();  // a failure under BACKPROP_REQUIRE_DATA=1
  if (dir.empty()) GTEST_SKIP() << "MNIST not found";
  const Dataset d = load_dataset(dir, {10000, 0});
  TrainOptions o;
  o.epochs = 1;
  o.evaluate_validation = false;
  size_t correct[2] = {0, 0};
  for (int g = 0; g < 2; ++g) {
    Network net = initialise({784, 30, 10}, Init::scaled, 1);
    auto backend = g ? make_cuda_backend(false) : make_cpu_backend(0);
    ASSERT_EQ(train(*backend, net, d, o, [&](const EpochReport& r) { correct[g] = r.test_correct; }).status,
              TrainOutcome::finished);
  }
  std::cout << "one epoch on 10,000 images: cpu " << correct[0] << ", cuda " << correct[1] << " / 10000\n";
  EXPECT_LE(std::abs(double(correct[0]) - double(correct[1])), 50.0);  // 0.5 points
}

// Graph replay against eager steps, bit for bit: the same launches in the same order. The graph
// backend gets the samples in two train() calls (the second replays the graph captured in the
// first, with a fresh window of samples), each 1,000 samples: a warm-up step, then 99 eager ones
// in the first call; whole replays in the second. Then 2,000 more in one call.
TEST(CudaBackend, GraphsReplayAcrossTrainCallsAsEagerStepsRun) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(4000, 28, 28, 10, 11);
  Hyper h;
  h.n = 4000;
  const Network start = initialise({784, 30, 10}, Init::normal, 11);
  const auto order = epoch_permutation(3, 0, 4000);
  const std::span<const uint32_t> all(order);
  auto graphs = make_cuda_backend(false, true), eager = make_cuda_backend(false, false);
  graphs->load(start);
  eager->load(start);
  const double c1 = graphs->train(images.view(), all.subspan(0, 1000), 10, h);
  const double c2 = graphs->train(images.view(), all.subspan(1000, 1000), 10, h);
  const double c3 = graphs->train(images.view(), all.subspan(2000, 2000), 10, h);
  const double e = eager->train(images.view(), all, 10, h);
  Network a, b;
  graphs->store(a);
  eager->store(b);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.biases, b.biases);
  EXPECT_NEAR(c1 + c2 + c3, e, 1e-9 * std::abs(e));  // the cost sums in another order of atomics
  EXPECT_GT(parameter_distance(start, a), 1e-2);
}

// evaluate() runs in a workspace of its own over the same parameters: the training workspace,
// and the graph captured into it, stay as they were, and the next train() replays that graph
// from its first step. Graphs against eager steps, bit for bit, across train / evaluate / train
// / evaluate / train: 1,010 samples (a warm-up step, capture, one replay), an evaluation of 700
// images, 1,000 samples (one replay of the same graph), an evaluation of all 4,000 (evaluation's
// workspace grows), 1,000 more. Evaluation's counts agree between the two backends too.
TEST(CudaBackend, EvaluateBetweenTrainCallsLeavesTheGraphAlone) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(4000, 28, 28, 10, 12);
  Hyper h;
  h.n = 4000;
  const Network start = initialise({784, 30, 10}, Init::scaled, 12);
  const auto order = epoch_permutation(4, 0, 4000);
  const std::span<const uint32_t> all(order);
  Network result[2];
  size_t correct[2][2] = {};
  for (int graphs = 0; graphs < 2; ++graphs) {
#if defined(BACKPROP_CUDA_EMULATION)
    const emu::Stats before = emu::stats();
#endif
    auto gpu = make_cuda_backend(false, graphs == 1);
    gpu->load(start);
    gpu->train(images.view(), all.subspan(0, 1010), 10, h);
    correct[graphs][0] = gpu->evaluate(images.view().slice(0, 700)).correct;
    gpu->train(images.view(), all.subspan(1010, 1000), 10, h);
    correct[graphs][1] = gpu->evaluate(images.view()).correct;  // 4,000 columns: more than the first
    gpu->train(images.view(), all.subspan(2010, 1000), 10, h);
    gpu->store(result[graphs]);
#if defined(BACKPROP_CUDA_EMULATION)
    // The emulated device counts what it ran: one capture for the whole run, replayed by each of
    // the three train() calls (a warm-up step and one replay, then a replay each).
    const emu::Stats after = emu::stats();
    EXPECT_EQ(after.graphs_captured - before.graphs_captured, graphs == 1 ? 1u : 0u);
    EXPECT_EQ(after.graph_launches - before.graph_launches, graphs == 1 ? 3u : 0u);
#endif
  }
  EXPECT_EQ(result[1].weights, result[0].weights);
  EXPECT_EQ(result[1].biases, result[0].biases);
  EXPECT_EQ(correct[1][0], correct[0][0]);
  EXPECT_EQ(correct[1][1], correct[0][1]);
  EXPECT_GT(parameter_distance(start, result[1]), 1e-2);
}

// evaluate() against the CPU on random data and a random network, over more images than one
// evaluation pass holds (10,000 columns), so the last pass is partial.
TEST(CudaBackend, EvaluateMatchesTheCpuOnRandomData) {
  SKIP_WITHOUT_GPU();
  for (const std::vector<size_t>& sizes : {std::vector<size_t>{784, 30, 10}, std::vector<size_t>{784, 17, 9, 10}}) {
    const LabelledImages images = synthetic_images(12345, 28, 28, 10, 13);
    const Network net = initialise(sizes, Init::normal, 13);
    auto cpu = make_cpu_backend(1);
    auto gpu = make_cuda_backend(false);
    cpu->load(net);
    gpu->load(net);
    const size_t c = cpu->evaluate(images.view()).correct, g = gpu->evaluate(images.view()).correct;
    std::cout << format_layers(sizes) << ": cpu " << c << ", cuda " << g << " of 12345 correct\n";
    EXPECT_GT(c, 12345u / 20);  // a random network still gets some right: the count means something
    // Near-ties of the output can fall either way in float32: a handful of images at most.
    EXPECT_LE(std::abs(double(c) - double(g)), 3.0);
  }
}

// The resident copy of a data set is found by its pixels, labels, count and image size: the same
// pixels with other labels (--shuffle-labels) are another data set. Labelling every image k
// counts the network's predictions of class k; those counts differ from class to class and sum
// to the image count, so stale labels cannot pass.
TEST(CudaBackend, ResidentDataFollowTheLabels) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(2000, 28, 28, 10, 14);
  std::vector<std::vector<uint8_t>> labels;  // all alive at once: distinct host addresses
  for (uint8_t k = 0; k < 10; ++k) labels.emplace_back(2000, k);
  const Network net = initialise({784, 30, 10}, Init::normal, 14);
  auto cpu = make_cpu_backend(1);
  auto gpu = make_cuda_backend(false);
  cpu->load(net);
  gpu->load(net);
  size_t total = 0;
  for (const std::vector<uint8_t>& l : labels) {
    DataView v = images.view();
    v.labels = l.data();
    const size_t c = cpu->evaluate(v).correct, g = gpu->evaluate(v).correct;
    total += g;
    EXPECT_LE(std::abs(double(c) - double(g)), 1.0) << "every label " << int(l[0]);
  }
  EXPECT_NEAR(double(total), 2000.0, 10.0);
  // A longer view of the same pixels after a shorter one.
  EXPECT_LE(std::abs(double(cpu->evaluate(images.view().slice(0, 700)).correct) - double(gpu->evaluate(images.view().slice(0, 700)).correct)), 1.0);
  EXPECT_LE(std::abs(double(cpu->evaluate(images.view()).correct) - double(gpu->evaluate(images.view()).correct)), 1.0);
}

// `backprop train --streamed` from the command line, against the resident run: the same epochs.
TEST(CudaBackend, StreamedFromTheCommandLineMatchesResident) {
  SKIP_WITHOUT_GPU();
  test::TempDir dir;
  test::write_fake_mnist(dir.path().string(), 1200, 100, 28, 28, 10, true);
  std::vector<nlohmann::json> epochs[2];
  for (int streamed = 0; streamed < 2; ++streamed) {
    const std::string log = dir.file(streamed ? "streamed.jsonl" : "resident.jsonl");
    const test::RunResult r = test::run_backprop("train --device cuda --quiet --epochs 2 --data " + dir.path().string() +
                                                 " --log " + log + (streamed ? " --streamed" : ""));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) epochs[streamed].push_back(nlohmann::json::parse(line));
  }
  ASSERT_EQ(epochs[0].size(), 2u);
  ASSERT_EQ(epochs[1].size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(epochs[1][e]["test_correct"], epochs[0][e]["test_correct"]) << "epoch " << e;
    EXPECT_EQ(epochs[1][e]["parameter_change"], epochs[0][e]["parameter_change"]) << "epoch " << e;
  }
}

// A release that fails in a destructor (here cudaFree while the stream is captured, which CUDA
// forbids: "potentially unsafe API calls" during a capture) is ignored and leaves no error in the
// last-error slot, where an unrelated later launch's cudaGetLastError() would report it.
TEST(CudaResources, AFailedReleaseLeavesNoErrorBehind) {
  SKIP_WITHOUT_GPU();
  Stream s;
  auto buffer = std::make_unique<DeviceBuffer<float>>(16);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  BP_CUDA_CHECK(cudaStreamBeginCapture(s.get(), cudaStreamCaptureModeThreadLocal));
  buffer.reset();  // its cudaFree is refused
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s.get(), &graph), cudaErrorStreamCaptureInvalidated);
  if (graph) cudaGraphDestroy(graph);
  (void)cudaGetLastError();  // the refused capture's error, for the tests after this one
}

#if defined(BACKPROP_CUDA_EMULATION)
// Out of device memory (the emulated device made 16 MiB, less than cuBLAS's 32 MiB workspace):
// one clear message and a non-zero exit, from train and from sweep.
TEST(CudaBackend, OutOfDeviceMemoryIsOneClearError) {
  SKIP_WITHOUT_GPU();
  test::TempDir dir;
  test::write_fake_mnist(dir.path().string(), 300, 50, 28, 28, 10, true);
  ::setenv("BACKPROP_CUDA_EMU_MEMORY_MIB", "16", 1);
  const test::RunResult train = test::run_backprop("train --device cuda --quiet --epochs 1 --data " + dir.path().string());
  const test::RunResult sweep = test::run_backprop("sweep --device cuda --yes --seeds 1-2 --epochs 1 --data " + dir.path().string());
  ::unsetenv("BACKPROP_CUDA_EMU_MEMORY_MIB");
  for (const test::RunResult* r : {&train, &sweep}) {
    EXPECT_NE(r->exit_code, 0) << r->output;
    EXPECT_LT(r->exit_code, 128) << "killed by a signal: " << r->output;
    EXPECT_NE(r->output.find("out of device memory"), std::string::npos) << r->output;
  }
}
#endif

// Needs no device: the reason names the CUDA error, and suggests a rebuild only for missing code.
TEST(CudaStatus, ReasonNamesTheErrorAndSuggestsARebuildOnlyForMissingCode) {
  const std::string busy = device_unusable_reason("cudaSetDevice(0)", cudaErrorDevicesUnavailable);
  EXPECT_NE(busy.find("cudaSetDevice(0)"), std::string::npos) << busy;
  EXPECT_NE(busy.find("cudaErrorDevicesUnavailable"), std::string::npos) << busy;
  EXPECT_EQ(busy.find("rebuild"), std::string::npos) << busy;
  const std::string missing = device_unusable_reason("the kernel-image probe", cudaErrorNoKernelImageForDevice);
  EXPECT_NE(missing.find("cudaErrorNoKernelImageForDevice"), std::string::npos) << missing;
  EXPECT_NE(missing.find("rebuild"), std::string::npos) << missing;
  if (!cuda_status().usable) {
    EXPECT_FALSE(cuda_status().reason.empty());
  }
}

}  // namespace
}  // namespace bp
