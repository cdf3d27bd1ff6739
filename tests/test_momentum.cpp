// Momentum (chapter 3: v = mu v - eta grad, w += v) on the float64 reference and the CPU backend:
// three steps on a one-layer network against the formula worked out here in double, and velocities
// that make a run split in two (parameters and velocities carried across) bit-identical to the
// whole run. Momentum against the reference on every backend is the contract
// (test_backend_contract.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "reference/compare.hpp"
#include "reference/reference.hpp"

namespace bp {
namespace {

// The parameters and velocities of a backend, as doubles in flat_parameters() order.
struct State {
  std::vector<double> params, velocity;
};

State state_of(Backend& backend) {
  Network p, v;
  backend.store(p);
  backend.store_velocity(v);
  return {flat_parameters(p), flat_parameters(v)};
}

// A 2-input, 1-output sigmoid network with the cross-entropy cost (delta = a - y), one sample per
// step, written out by hand: grad_w = (a - y) x + (lambda/n) w, grad_b = a - y.
TEST(Momentum, ThreeStepsMatchTheFormulaByHand) {
  const double mu = 0.9, eta = 0.5, lambda = 2.0;
  const size_t n = 4;
  Network start = zero_network({2, 1});
  start.weights[0] = {0.25f, -0.5f};
  start.biases[0] = {0.125f};
  LabelledImages li;
  // One output unit: label 0 is the target y = 1, label 1 (no unit of its own) is y = 0.
  li.count = 3, li.rows = 1, li.cols = 2, li.pixels = {255, 51, 0, 204, 102, 153}, li.labels = {0, 1, 0};
  const std::vector<uint32_t> order = {0, 1, 2};
  const std::vector<double> y = {1, 0, 1};

  double w[2] = {0.25, -0.5}, b = 0.125, vw[2] = {0, 0}, vb = 0;
  for (size_t step = 0; step < 3; ++step) {
    const double x[2] = {li.pixels[2 * step] / 255.0, li.pixels[2 * step + 1] / 255.0};
    const double a = 1 / (1 + std::exp(-(w[0] * x[0] + w[1] * x[1] + b)));
    const double delta = a - y[step];
    for (int k = 0; k < 2; ++k) {
      vw[k] = mu * vw[k] - eta * (delta * x[k] + lambda / double(n) * w[k]);
      w[k] += vw[k];
    }
    vb = mu * vb - eta * delta;
    b += vb;
  }
  const std::vector<double> expected_params = {w[0], w[1], b}, expected_velocity = {vw[0], vw[1], vb};

  Hyper h;
  h.cost = Cost::cross_entropy;
  h.eta = eta;
  h.lambda = lambda;
  h.momentum = mu;
  h.n = n;
  auto ref = reference::make_backend();
  auto cpu = make_cpu_backend(1);
  for (Backend* backend : {ref.get(), cpu.get()}) {
    // store() rounds to float32, so even the float64 reference is only that close.
    const double tolerance = backend == ref.get() ? 1e-7 : 1e-6;
    backend->load(start);
    backend->train(li.view(), order, 1, h);
    const State s = state_of(*backend);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(s.params[i], expected_params[i], tolerance) << backend->name() << " parameter " << i;
      EXPECT_NEAR(s.velocity[i], expected_velocity[i], tolerance) << backend->name() << " velocity " << i;
    }
  }
  // And the velocities matter: without momentum the same three steps end elsewhere.
  h.momentum = 0;
  cpu->load(start);
  cpu->train(li.view(), order, 1, h);
  EXPECT_GT(std::abs(state_of(*cpu).params[0] - expected_params[0]), 1e-3);
}

// What a checkpoint does: stop after 50 steps, carry parameters and velocities to a fresh backend,
// do the other 50. On the CPU the result is bit-identical to 100 steps in one go.
TEST(Momentum, SplitRunIsBitIdenticalOnTheCpu) {
  const LabelledImages images = synthetic_images(1000, 784, 1, 10, 6);
  const Network start = initialise({784, 15, 10}, Init::scaled, 6, Output::softmax);
  Hyper h;
  h.cost = Cost::log_likelihood;
  h.eta = 0.1;
  h.lambda = 5.0;
  h.momentum = 0.9;
  h.n = 1000;
  const std::vector<uint32_t> order = epoch_permutation(6, 0, 1000);
  const std::span<const uint32_t> all(order);
  auto whole = make_cpu_backend(1);
  whole->load(start);
  whole->train(images.view(), all, 10, h);

  auto first = make_cpu_backend(1), second = make_cpu_backend(1);
  first->load(start);
  first->train(images.view(), all.first(500), 10, h);
  Network p, v;
  first->store(p);
  first->store_velocity(v);
  second->load(p);
  second->load_velocity(v);
  second->train(images.view(), all.subspan(500), 10, h);

  const State a = state_of(*whole), b = state_of(*second);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.velocity, b.velocity);
  // Without the velocities the second half would differ: the test can fail.
  auto forgetful = make_cpu_backend(1);
  forgetful->load(p);
  forgetful->train(images.view(), all.subspan(500), 10, h);
  EXPECT_NE(state_of(*forgetful).params, a.params);
}

}  // namespace
}  // namespace bp
