// Networks trained together (model/batched_step.hpp) on the CPU's batched ops, against the same
// networks trained one at a time by the single-network code: bit for bit, since the batched CPU
// ops run each network's floats through the same operations in the same order. The batched
// CUDA backend runs the same step with the same arguments (test_cuda_batched.cpp). Also the
// grouping of a sweep's networks, a pure function.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <span>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_batched_backend.hpp"
#include "model/batched_step.hpp"
#include "model/rng.hpp"
#include "sweep/groups.hpp"
#include "train/batched_trainer.hpp"
#include "train/run_settings.hpp"

#include "helpers.hpp"

namespace bp {
namespace {

Dataset small_dataset(size_t train, size_t validation, size_t rows, size_t classes, uint64_t seed) {
  return test::small_dataset(train, validation, rows, classes, seed, 300);
}

// K networks with their own seeds, eta, lambda (and mu): what a sweep's group differs in.
std::vector<Hyper> group_hypers(size_t K, Cost cost, bool momentum, size_t n) {
  std::vector<Hyper> h(K);
  for (size_t k = 0; k < K; ++k) {
    h[k].cost = cost;
    h[k].eta = 0.1 + 0.7 * double(k);
    h[k].lambda = double(k % 3) * 2.5;
    h[k].momentum = momentum ? 0.5 + 0.1 * double(k % 4) : 0.0;
    h[k].n = n;
  }
  return h;
}

// Largest |a - b| over every parameter of every network (0 when bit-identical).
double largest_difference(const std::vector<Network>& a, const std::vector<Network>& b) {
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k)
    for (size_t l = 0; l < a[k].weights.size(); ++l) {
      for (size_t i = 0; i < a[k].weights[l].size(); ++i)
        worst = std::max(worst, std::abs(double(a[k].weights[l][i]) - double(b[k].weights[l][i])));
      for (size_t i = 0; i < a[k].biases[l].size(); ++i)
        worst = std::max(worst, std::abs(double(a[k].biases[l][i]) - double(b[k].biases[l][i])));
    }
  return worst;
}

// 100 steps of K networks, each on its own shuffle, batched against one CpuBackend per network:
// parameters, velocities and costs equal bit for bit. A last short batch (995 samples: 99 of 10
// and one of 5) checks the per-m scalars too. Two hidden layers, so the hidden deltas' GEMMs run.
TEST(BatchedStep, EqualsSeparateRunsOfTheSingleStepBitForBit) {
  const Dataset d = small_dataset(1500, 0, 10, 10, 21);
  const std::vector<size_t> sizes{100, 24, 16, 10};
  for (const Cost cost : {Cost::quadratic, Cost::cross_entropy, Cost::log_likelihood}) {
    for (const bool momentum : {false, true}) {
      for (const size_t K : {size_t(1), size_t(5)}) {
        const std::string what = cost_name(cost) + (momentum ? " momentum" : "") + " K=" + std::to_string(K);
        const std::vector<Hyper> hypers = group_hypers(K, cost, momentum, 1500);
        std::vector<Network> start;
        for (size_t k = 0; k < K; ++k) start.push_back(initialise(sizes, k % 2 ? Init::scaled : Init::normal, 40 + k, output_layer(cost)));
        const size_t length = 995;
        std::vector<uint32_t> orders;
        for (size_t k = 0; k < K; ++k) {
          const auto o = epoch_permutation(40 + k, 0, d.train.samples());
          orders.insert(orders.end(), o.begin(), o.begin() + length);
        }
        std::vector<Network> alone(K), alone_v(K);
        std::vector<double> alone_cost(K);
        for (size_t k = 0; k < K; ++k) {
          auto cpu = make_cpu_backend(1);
          cpu->load(start[k]);
          alone_cost[k] = cpu->train(d.train, std::span<const uint32_t>(orders.data() + k * length, length), 10, hypers[k]);
          cpu->store(alone[k]);
          cpu->store_velocity(alone_v[k]);
        }
        auto batched = make_cpu_batched_backend();
        batched->load(start, momentum);
        const std::vector<double> costs = batched->train(d.train, orders, length, 10, hypers);
        std::vector<Network> together, together_v;
        batched->store(together);
        batched->store_velocity(together_v);
        const double worst = largest_difference(alone, together), worst_v = largest_difference(alone_v, together_v);
        std::cout << what << ": largest |batched - single| parameter " << worst << ", velocity " << worst_v << "\n";
        EXPECT_EQ(worst, 0.0) << what;
        EXPECT_EQ(worst_v, 0.0) << what;
        EXPECT_EQ(costs, alone_cost) << what;
        for (size_t k = 0; k < K; ++k) EXPECT_GT(parameter_distance(start[k], together[k]), 1e-2) << what << " network " << k << " never moved";
        if (momentum) {
          EXPECT_GT(parameter_distance(zero_network(sizes), together_v.back()), 1e-3) << what;
        }
      }
    }
  }
}

TEST(BatchedStep, EvaluationCountsEqualEachNetworkAlone) {
  const Dataset d = small_dataset(600, 2345, 10, 10, 22);  // more than one chunk, and a short one
  std::vector<Network> nets;
  for (size_t k = 0; k < 4; ++k) nets.push_back(initialise({100, 20, 10}, Init::scaled, 50 + k, k % 2 ? Output::softmax : Output::sigmoid));
  nets[1].output = Output::sigmoid;  // one shape: one output layer
  nets[3].output = Output::sigmoid;
  auto batched = make_cpu_batched_backend();
  batched->load(nets, false);
  const std::vector<Evaluation> together = batched->evaluate(d.validation);
  ASSERT_EQ(together.size(), nets.size());
  for (size_t k = 0; k < nets.size(); ++k) {
    auto cpu = make_cpu_backend(1);
    cpu->load(nets[k]);
    const Evaluation alone = cpu->evaluate(d.validation);
    EXPECT_EQ(together[k].correct, alone.correct) << k;
    EXPECT_EQ(together[k].predicted, alone.predicted) << k;
  }
  EXPECT_NE(together[0].predicted, together[2].predicted) << "different networks classified alike: a stride is 0";
}

// Momentum in the hypers must match what load() was told: otherwise mu would stand in for the
// plain update's decay and scale every weight without a word.
TEST(BatchedStep, MomentumThatLoadWasNotToldIsRefused) {
  const Dataset d = small_dataset(100, 0, 10, 10, 24);
  std::vector<Network> nets{initialise({100, 12, 10}, Init::scaled, 7, Output::sigmoid)};
  std::vector<uint32_t> order(100);
  for (uint32_t i = 0; i < 100; ++i) order[i] = i;
  for (const bool loaded_with_momentum : {false, true}) {
    auto batched = make_cpu_batched_backend();
    batched->load(nets, loaded_with_momentum);
    std::vector<Hyper> h = group_hypers(1, Cost::cross_entropy, !loaded_with_momentum, 100);
    EXPECT_THROW(batched->train(d.train, order, 100, 10, h), Error) << loaded_with_momentum;
    h = group_hypers(1, Cost::cross_entropy, loaded_with_momentum, 100);
    EXPECT_NO_THROW(batched->train(d.train, order, 100, 10, h)) << loaded_with_momentum;
  }
}

// train_together against bp::train per network: every epoch report (cost, change, validation and
// test counts, schedule decisions) and the final parameters, with schedules and early stopping
// that end some networks before others.
TEST(BatchedTrainer, EqualsTrainPerNetwork) {
  const Dataset d = small_dataset(400, 200, 8, 4, 23);
  const std::vector<size_t> sizes{64, 12, 4};
  std::vector<TrainOptions> options(4);
  for (size_t k = 0; k < options.size(); ++k) {
    TrainOptions& o = options[k];
    o.epochs = 6;
    o.batch_size = 7;  // 400 = 57 * 7 + 1: a short last batch
    o.seed = 3 + k;
    o.hyper.cost = Cost::cross_entropy;
    o.hyper.eta = 0.2 * double(k + 1);
    o.hyper.lambda = double(k);
    o.plateau = k == 1 ? 1 : 0;
    o.early_stop = k == 2 ? 1 : 0;
  }
  std::vector<Network> nets;
  for (size_t k = 0; k < options.size(); ++k) nets.push_back(initialise(sizes, Init::scaled, 60 + k));
  std::vector<std::vector<EpochReport>> alone(options.size()), together(options.size());
  std::vector<Network> alone_nets = nets;
  for (size_t k = 0; k < options.size(); ++k) {
    auto cpu = make_cpu_backend(1);
    train(*cpu, alone_nets[k], d, options[k], [&](const EpochReport& r) { alone[k].push_back(r); });
  }
  auto batched = make_cpu_batched_backend();
  train_together(*batched, nets, d, options, [&](size_t k, const EpochReport& r) { together[k].push_back(r); });
  for (size_t k = 0; k < options.size(); ++k) {
    ASSERT_EQ(together[k].size(), alone[k].size()) << "network " << k;
    for (size_t e = 0; e < alone[k].size(); ++e) {
      const EpochReport &a = alone[k][e], &b = together[k][e];
      EXPECT_EQ(a.eta, b.eta);
      EXPECT_EQ(a.training_cost, b.training_cost) << k << " epoch " << e;
      EXPECT_EQ(a.parameter_change, b.parameter_change) << k << " epoch " << e;
      EXPECT_EQ(a.validation_correct, b.validation_correct);
      EXPECT_EQ(a.validation_predicted, b.validation_predicted);
      EXPECT_EQ(a.test_correct, b.test_correct);
      EXPECT_EQ(a.schedule, b.schedule);
    }
    EXPECT_EQ(largest_difference({alone_nets[k]}, {nets[k]}), 0.0) << k;
  }
  EXPECT_LT(together[2].size(), 6u) << "early stopping never ended network 2 (the test would not cover it)";
  EXPECT_EQ(together[0].size(), 6u);
}

sweep::Plan plan(const std::string& layers, double eta, uint64_t batch, double momentum = 0, std::string expand = "none") {
  sweep::Plan p;
  p.sizes = parse_layers(layers);
  p.run.settings.layers = layers;
  p.run.settings.eta = eta;
  p.run.settings.batch_size = batch;
  p.run.settings.expand = expand;
  p.hyper.eta = eta;
  p.hyper.momentum = momentum;
  return p;
}

TEST(SweepGroups, SameShapeTogetherInOrderCappedAndLoneNetworksAlone) {
  const std::vector<sweep::Plan> plans = {
      plan("784,30,10", 0.5, 10), plan("784,15,10", 0.5, 10), plan("784,30,10", 3, 10),  plan("784,30,10", 1, 32),
      plan("784,30,10", 9, 10),   plan("784,15,10", 3, 10),   plan("784,30,10", 2, 10, 0.9),
      plan("784,30,10", 4, 10, 0, "shifts"), plan("784,30,10", 5, 10)};
  const sweep::Grouping g = sweep::group_plans(plans, 0);
  EXPECT_EQ(g.groups, (std::vector<std::vector<size_t>>{{0, 2, 4, 8}, {1, 5}}));
  EXPECT_EQ(g.alone, (std::vector<size_t>{3, 6, 7}));  // another batch, momentum, shifted data
  EXPECT_NE(g.reason.find("3 network(s)"), std::string::npos) << g.reason;
  const sweep::Grouping capped = sweep::group_plans(plans, 3);
  EXPECT_EQ(capped.groups, (std::vector<std::vector<size_t>>{{0, 2, 4}, {8}, {1, 5}}));
  EXPECT_TRUE(sweep::group_plans({plans[0], plans[2]}, 0).reason.empty());
  EXPECT_EQ(sweep::networks_that_fit(1000, 90), 10u);
  EXPECT_EQ(sweep::networks_that_fit(99, 100), 0u);
  EXPECT_EQ(sweep::networks_that_fit(1000, 0), 0u);
}

TEST(SweepGroups, GroupsTrainAsRunPlansDoes) {
  const Dataset d = small_dataset(300, 100, 8, 4, 24);
  std::vector<sweep::Plan> plans;
  for (uint64_t k = 0; k < 3; ++k) {
    sweep::Plan p = plan("64,10,4", 0.5 + double(k), 10);
    p.run.index = k;
    p.run.settings.epochs = 3;
    p.run.settings.seed = k + 1;
    p.run.settings.lambda = double(k);
    p.hyper.lambda = double(k);
    p.hyper.cost = Cost::quadratic;
    plans.push_back(p);
  }
  std::vector<sweep::Plan> grouped = plans;
  sweep::RunnerOptions options;
  options.backend.device = Device::cpu;
  options.backend.threads = 1;
  std::vector<Network> a(3), b(3);
  ASSERT_TRUE(sweep::run_plans(plans, d, options, [](const sweep::NetworkRun&, const EpochReport&) {},
                               [&](const sweep::NetworkRun& r, const Network& n) { a[r.index] = n; }));
  ASSERT_TRUE(sweep::run_groups(grouped, {{0, 1, 2}}, d, make_cpu_batched_backend, nullptr,
                                [](const sweep::NetworkRun&, const EpochReport&) {},
                                [&](const sweep::NetworkRun& r, const Network& n) { b[r.index] = n; }));
  EXPECT_EQ(largest_difference(a, b), 0.0);
  for (size_t k = 0; k < 3; ++k) {
    ASSERT_EQ(plans[k].run.epochs.size(), grouped[k].run.epochs.size());
    for (size_t e = 0; e < plans[k].run.epochs.size(); ++e)
      EXPECT_EQ(plans[k].run.epochs[e].validation_correct, grouped[k].run.epochs[e].validation_correct);
  }
}

TEST(SweepGroups, GroupSizeWithoutTheGpuIsAUsageError) {
  const auto r = test::run_backprop("sweep --device cpu --group-size 4 --seeds 1-2 --data /nonexistent");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--group-size applies to --device cuda only"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace bp
