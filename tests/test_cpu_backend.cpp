// What only the CPU backend does (its gradient, steps and evaluation against the float64
// reference are the contract every backend passes: test_backend_contract.cpp): short last
// batches, the softmax op, threads, and the sparse and padded paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <iostream>
#include <numeric>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_ops.hpp"
#include "reference/compare.hpp"
#include "reference/reference.hpp"

namespace bp {
namespace {

TEST(CpuBackend, ShortLastBatchAveragesOverItsOwnSize) {
  const LabelledImages images = synthetic_images(25, 12, 1, 4, 3);
  const Network start = initialise({12, 7, 4}, Init::normal, 3);
  std::vector<uint32_t> order(25);
  std::iota(order.begin(), order.end(), 0u);
  Hyper h;
  h.n = 25;
  auto cpu = make_cpu_backend(1), ref = reference::make_backend();
  cpu->load(start);
  ref->load(start);
  cpu->train(images.view(), order, 10, h);  // batches of 10, 10 and 5
  ref->train(images.view(), order, 10, h);
  Network a, b;
  cpu->store(a);
  ref->store(b);
  EXPECT_LT(parameter_distance(a, b), 1e-5);
}

TEST(CpuBackend, LoadStoreRoundTrips) {
  for (const Output output : {Output::sigmoid, Output::softmax}) {
    const Network net = initialise({20, 9, 3}, Init::normal, 4, output);
    auto cpu = make_cpu_backend(1);
    cpu->load(net);
    Network back;
    cpu->store(back);
    EXPECT_EQ(back.weights, net.weights);
    EXPECT_EQ(back.biases, net.biases);
    EXPECT_EQ(back.output, output);
  }
}

// A backend that trained one network and then loads another (other sizes, so another layout of
// padded weight columns) trains, evaluates (on two threads, each with its own workspace) and
// takes gradients exactly as a fresh backend does: the same bits.
TEST(CpuBackend, ASecondNetworkTrainsAsInAFreshBackend) {
  const LabelledImages images = synthetic_images(1100, 100, 1, 10, 31);  // five evaluation chunks: two parts
  const std::vector<uint32_t> order = epoch_permutation(31, 0, 1100);
  Hyper h;
  h.cost = Cost::cross_entropy;
  h.lambda = 1.0;
  h.momentum = 0.5;
  h.n = 1100;
  const Network first = initialise({100, 40, 10}, Init::normal, 31),
                second = initialise({100, 33, 17, 10}, Init::scaled, 32);
  auto used = make_cpu_backend(2), fresh = make_cpu_backend(2);
  used->load(first);
  used->train(images.view(), order, 10, h);
  used->load(second);
  fresh->load(second);
  EXPECT_EQ(used->train(images.view(), order, 10, h), fresh->train(images.view(), order, 10, h));
  Network a, b, ga, gb;
  used->store(a);
  fresh->store(b);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.biases, b.biases);
  EXPECT_NE(a.weights, second.weights);  // it did train
  const Evaluation ea = used->evaluate(images.view()), eb = fresh->evaluate(images.view());
  EXPECT_EQ(ea.correct, eb.correct);
  EXPECT_EQ(ea.predicted, eb.predicted);
  const std::span<const uint32_t> batch(order.data(), 13);
  EXPECT_EQ(used->gradient(images.view(), batch, h, ga), fresh->gradient(images.view(), batch, h, gb));
  EXPECT_EQ(ga.weights, gb.weights);
  EXPECT_EQ(ga.biases, gb.biases);
}

// The softmax op (model_math.cuh's bias_softmax_column, which the CUDA kernel also runs) against
// the float64 reference's own softmax, including inputs whose exp overflows float.
TEST(CpuBackend, SoftmaxMatchesReferenceAtAnyScale) {
  Rng rng(7);
  CpuOps ops;
  const int n = 10, m = 7;
  for (const double scale : {1.0, 30.0, 1000.0}) {
    std::vector<float> a(n * m), b(n);
    for (float& v : a) v = float(scale * rng.normal());
    for (float& v : b) v = float(rng.normal());
    std::vector<float> out = a;
    ops.bias_softmax(n, m, b.data(), 0, out.data(), 0, 1);
    double worst = 0;
    size_t not_finite = 0;  // counted apart: a NaN would slip through a running maximum
    for (int j = 0; j < m; ++j) {
      reference::Vector z(n);
      for (int i = 0; i < n; ++i) z[i] = double(a[i + j * n]) + double(b[i]);
      const reference::Vector expected = reference::softmax(z);
      for (int i = 0; i < n; ++i) {
        if (!std::isfinite(out[i + j * n])) ++not_finite;
        worst = std::max(worst, std::abs(double(out[i + j * n]) - expected[i]));
      }
    }
    std::cout << "softmax at scale " << scale << ": max |cpu - reference| = " << worst << "\n";
    EXPECT_EQ(not_finite, 0u) << "scale " << scale;
    EXPECT_LT(worst, 1e-6) << "scale " << scale;
  }
}

TEST(CpuBackend, CostMustFitTheOutputLayer) {
  const LabelledImages images = synthetic_images(20, 12, 1, 4, 3);
  const std::vector<uint32_t> order{0, 1, 2, 3};
  Hyper h;
  h.n = 20;
  h.cost = Cost::log_likelihood;
  auto cpu = make_cpu_backend(1);
  cpu->load(initialise({12, 7, 4}, Init::normal, 3));
  EXPECT_THROW(cpu->train(images.view(), order, 2, h), Error);
  h.cost = Cost::quadratic;
  cpu->load(initialise({12, 7, 4}, Init::normal, 3, Output::softmax));
  Network g;
  EXPECT_THROW(cpu->gradient(images.view(), order, h, g), Error);
}

}  // namespace
}  // namespace bp

namespace bp {
namespace {

// The float32 error model must still catch a wrong gradient: one entry off by 0.1% fails it.
TEST(ErrorModel, CatchesAWrongEntryButNotRounding) {
  Rng rng(5);
  std::vector<double> ref(1000), rounded(1000);
  for (size_t i = 0; i < ref.size(); ++i) {
    ref[i] = (rng.uniform() - 0.5) * std::pow(10.0, -6.0 * rng.uniform());  // many tiny entries
    rounded[i] = double(float(ref[i]));
  }
  EXPECT_LE(float32_error_model(ref, rounded, 100).worst_ratio, 1.0);
  std::vector<double> wrong = rounded;
  const size_t big =
      size_t(std::max_element(ref.begin(), ref.end(), [](double a, double b) { return std::abs(a) < std::abs(b); }) -
             ref.begin());
  wrong[big] *= 1.001;
  const ErrorModel m = float32_error_model(ref, wrong, 100);
  EXPECT_GT(m.worst_ratio, 1.0);
  EXPECT_EQ(m.worst, big);
}

}  // namespace
}  // namespace bp

namespace bp {
namespace {

// Evaluation split across threads (each part on its own workspace) counts exactly what one
// thread counts, on an odd number of MNIST-like images that leaves a short last chunk, and on
// sets too small to split.
TEST(CpuBackend, EvaluationOnSeveralThreadsCountsTheSame) {
  LabelledImages images = synthetic_images(12345, 28, 28, 10, 4);
  for (uint8_t& p : images.pixels) p = p < 200 ? 0 : p;
  const Network net = initialise({784, 30, 10}, Init::scaled, 6);
  auto one = make_cpu_backend(1);
  one->load(net);
  for (size_t count : {size_t(12345), size_t(2500), size_t(999)}) {
    const DataView view = images.view().slice(0, count);
    const Evaluation want = one->evaluate(view);
    EXPECT_GT(want.correct, 0u);
    for (int threads : {2, 3, 0}) {
      auto several = make_cpu_backend(threads);
      several->load(net);
      const Evaluation got = several->evaluate(view);
      EXPECT_EQ(got.correct, want.correct) << count << " images, threads " << threads;
      EXPECT_EQ(got.predicted, want.predicted) << count << " images, threads " << threads;
    }
  }
}

}  // namespace
}  // namespace bp
