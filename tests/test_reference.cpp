// The float64 reference: backprop's gradient against central finite differences for one and three
// hidden layers, all three costs, with and without L2; the largest relative error must be below 1e-6.
// Its backend holding K networks: each trains as it would alone, and the CPU's K follow them.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <span>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"

#include "reference/compare.hpp"
#include "reference/reference.hpp"

namespace bp {
namespace {

struct ReferenceCase {
  std::vector<size_t> sizes;
  Cost cost;
  double lambda;
};

TEST(Reference, GradientMatchesFiniteDifferences) {
  const std::vector<ReferenceCase> cases = {
      {{12, 7, 4}, Cost::quadratic, 0.0},           {{12, 7, 4}, Cost::cross_entropy, 0.0},
      {{12, 7, 4}, Cost::quadratic, 2.0},           {{12, 7, 4}, Cost::cross_entropy, 2.0},
      {{9, 8, 6, 5, 3}, Cost::quadratic, 0.0},      {{9, 8, 6, 5, 3}, Cost::cross_entropy, 0.0},
      {{9, 8, 6, 5, 3}, Cost::quadratic, 1.0},      {{9, 8, 6, 5, 3}, Cost::cross_entropy, 1.0},
      {{12, 7, 4}, Cost::log_likelihood, 0.0},      {{12, 7, 4}, Cost::log_likelihood, 2.0},
      {{9, 8, 6, 5, 3}, Cost::log_likelihood, 0.0}, {{9, 8, 6, 5, 3}, Cost::log_likelihood, 1.0},
  };
  uint64_t seed = 1;
  for (const ReferenceCase& c : cases) {
    const LabelledImages images = synthetic_images(40, c.sizes.front(), 1, c.sizes.back(), seed);
    const std::vector<uint32_t> batch = {3, 17, 5, 31, 22};
    Hyper h;
    h.cost = c.cost;
    h.lambda = c.lambda;
    h.n = 40;
    const reference::Params p =
        reference::from_network(initialise(c.sizes, Init::normal, seed++, output_layer(c.cost)));
    reference::Params g;
    reference::gradient(p, images.view(), batch, h, g);
    std::vector<double> numeric;
    for (size_t l = 0; l < p.weights.size(); ++l) {
      for (size_t i = 0; i < p.weights[l].size(); ++i)
        numeric.push_back(reference::numerical_partial(p, images.view(), batch, h, l, true, i));
      for (size_t i = 0; i < p.biases[l].size(); ++i)
        numeric.push_back(reference::numerical_partial(p, images.view(), batch, h, l, false, i));
    }
    const std::vector<double> analytic = reference::flat(g);
    const Comparison cmp = compare(numeric, analytic, 1e-3);
    const std::string label = format_layers(c.sizes) + " " + cost_name(c.cost) + " lambda " + std::to_string(c.lambda);
    print_comparison(std::cout, label, numeric, analytic, cmp, 1e-6);
    EXPECT_LT(cmp.max_rel, 1e-6) << label;
  }
}

TEST(Reference, GradientIsZeroForAPerfectFit) {
  // A one-layer network whose output is saturated at the target has (nearly) no gradient: a check
  // that the sign and target encoding are right, not only self-consistent.
  Network net = zero_network({1, 2});
  net.biases[0] = {-40.0f, 40.0f};  // outputs ~ (0, 1): label 1
  LabelledImages li;
  li.count = 1, li.rows = 1, li.cols = 1, li.pixels = {0}, li.labels = {1};
  reference::Params g;
  Hyper h;
  reference::gradient(reference::from_network(net), li.view(), std::vector<uint32_t>{0}, h, g);
  EXPECT_LT(std::abs(g.biases[0][0]), 1e-15);
  EXPECT_LT(std::abs(g.biases[0][1]), 1e-15);
  li.labels = {0};  // now the opposite: the gradient must push output 0 up (negative dC/db0)
  h.cost = Cost::cross_entropy;
  reference::gradient(reference::from_network(net), li.view(), std::vector<uint32_t>{0}, h, g);
  EXPECT_LT(g.biases[0][0], -0.99);
  EXPECT_GT(g.biases[0][1], 0.99);
}

// A NaN anywhere must fail every tolerance: std::max(worst, NaN) keeps worst, so a NaN result
// used to compare as close as the rest.
TEST(Compare, NanNeverPasses) {
  const std::vector<double> ref = {1.0, 2.0, 3.0}, got = {1.0, std::nan(""), 3.0};
  const Comparison c = compare(ref, got, 1e-3);
  EXPECT_FALSE(c.max_abs < 1e-3);
  EXPECT_FALSE(c.max_rel < 1e-3);
  EXPECT_EQ(c.worst, 1u);
  EXPECT_EQ(compare(ref, ref, 1e-3).max_abs, 0.0);
}

// A one-layer softmax network with zero weights: z = b, so the outputs, the cost -ln a_y and the
// gradient a - y can be written down from exp alone.
TEST(Reference, SoftmaxAndLogLikelihoodByHand) {
  for (const double shift : {0.0, 1000.0}) {  // 1000: exp(z) alone would overflow
    Network net = zero_network({1, 3});
    net.output = Output::softmax;
    net.biases[0] = {float(shift + 0.5), float(shift - 1.0), float(shift + 2.0)};
    LabelledImages li;
    li.count = 1, li.rows = 1, li.cols = 1, li.pixels = {200}, li.labels = {1};
    const double e0 = std::exp(0.5), e1 = std::exp(-1.0), e2 = std::exp(2.0), sum = e0 + e1 + e2;
    const double a[3] = {e0 / sum, e1 / sum, e2 / sum};
    const reference::Params p = reference::from_network(net);
    const reference::Vector out = reference::feedforward(p, reference::input_vector(li.view(), 0));
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(out[j], a[j], 1e-12) << "shift " << shift;
    Hyper h;
    h.cost = Cost::log_likelihood;
    reference::Params g;
    const double c = reference::gradient(p, li.view(), std::vector<uint32_t>{0}, h, g);
    EXPECT_NEAR(c, -std::log(a[1]), 1e-12);
    const double y[3] = {0, 1, 0}, x = double(normalise_pixel(200));  // the input as every backend makes it
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(g.biases[0][j], a[j] - y[j], 1e-12);
      EXPECT_NEAR(g.weights[0][j], (a[j] - y[j]) * x, 1e-12);
    }
  }
}

TEST(Reference, CostMustFitTheOutputLayer) {
  const LabelledImages li = synthetic_images(4, 12, 1, 4, 2);
  reference::Params g;
  Hyper h;
  h.cost = Cost::log_likelihood;
  const std::vector<uint32_t> batch{0, 1};
  EXPECT_THROW(
      reference::gradient(reference::from_network(initialise({12, 7, 4}, Init::normal, 1)), li.view(), batch, h, g),
      Error);
  h.cost = Cost::cross_entropy;
  EXPECT_THROW(reference::gradient(reference::from_network(initialise({12, 7, 4}, Init::normal, 1, Output::softmax)),
                                   li.view(), batch, h, g),
               Error);
}

// The reference backend holds K networks too (one after another): K together equal each alone
// exactly, parameters, velocities and costs; and the CPU backend's K networks together stay within
// float32 rounding of the reference's, network by network (an independent check of the per-network
// orders, hyper-parameters and strides, which does not rest on the CPU's own one-network path).
TEST(ReferenceBackend, KNetworksTogetherEqualEachAloneAndTheCpuFollows) {
  const LabelledImages images = synthetic_images(600, 20, 1, 5, 41);
  const size_t K = 3, length = 595;  // 59 batches of 10 and one of 5
  for (const bool momentum : {false, true}) {
    std::vector<Network> start;
    std::vector<Hyper> hypers(K);
    std::vector<uint32_t> orders;
    for (size_t k = 0; k < K; ++k) {
      start.push_back(initialise({20, 9, 5}, Init::normal, 90 + k));
      hypers[k].cost = Cost::cross_entropy;
      hypers[k].eta = 0.3 + 0.4 * double(k);
      hypers[k].lambda = double(k);
      hypers[k].momentum = momentum ? 0.4 + 0.2 * double(k) : 0.0;
      hypers[k].n = 600;
      const std::vector<uint32_t> o = epoch_permutation(90 + k, 0, 600);
      orders.insert(orders.end(), o.begin(), o.begin() + length);
    }
    auto ref = reference::make_backend(), cpu = make_cpu_backend(1);
    ref->load_all(start);
    cpu->load_all(start);
    const std::vector<double> costs = ref->train_all(images.view(), orders, 10, hypers);
    const std::vector<double> cpu_costs = cpu->train_all(images.view(), orders, 10, hypers);
    std::vector<Network> together, together_v, on_cpu, on_cpu_v;
    ref->store_all(together);
    ref->store_velocities(together_v);
    cpu->store_all(on_cpu);
    cpu->store_velocities(on_cpu_v);
    ASSERT_EQ(together.size(), K);
    ASSERT_EQ(on_cpu.size(), K);
    for (size_t k = 0; k < K; ++k) {
      const std::string what = std::string(momentum ? "momentum" : "no momentum") + ", network " + std::to_string(k);
      auto alone = reference::make_backend();
      alone->load(start[k]);
      const double cost = alone->train(images.view(), std::span(orders).subspan(k * length, length), 10, hypers[k]);
      EXPECT_EQ(cost, costs[k]) << what;
      Network p, v;
      alone->store(p);
      alone->store_velocity(v);
      EXPECT_EQ(p.weights, together[k].weights) << what;
      EXPECT_EQ(p.biases, together[k].biases) << what;
      EXPECT_EQ(v.weights, together_v[k].weights) << what;
      EXPECT_EQ(v.biases, together_v[k].biases) << what;
      const Comparison params = compare(flat_parameters(together[k]), flat_parameters(on_cpu[k]), 1e-3);
      const Comparison velocities = compare(flat_parameters(together_v[k]), flat_parameters(on_cpu_v[k]), 1e-3);
      EXPECT_LT(params.max_abs, 1e-3) << what;
      EXPECT_LT(velocities.max_abs, 1e-3) << what;
      EXPECT_NEAR(cpu_costs[k], costs[k], 1e-4 * std::abs(costs[k])) << what;
      EXPECT_GT(parameter_distance(start[k], together[k]), 1e-2) << what;
    }
  }
}

}  // namespace
}  // namespace bp
