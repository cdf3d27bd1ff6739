// K networks of one shape trained together on one CPU backend (load_all, train_all: the step of
// model/step.hpp over K networks' strided operands), against the same networks trained one at a
// time, each on its own make_cpu_backend(1): bit for bit, since CpuOps runs each network's floats
// through the same operations in the same order whatever K is. The CUDA backend runs the same
// step with the same arguments (test_cuda_networks.cpp, test_cuda_ops.cpp). Also what train_all refuses, the trainer
// for K networks (train_together) against train() per network, a sweep's groups against
// run_plans, and the grouping of a sweep's networks, a pure function.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <span>
#include <utility>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_path.hpp"
#include "sweep/groups.hpp"
#include "sweep/runner.hpp"
#include "train/run_settings.hpp"
#include "train/trainer.hpp"

#include "helpers.hpp"

namespace bp {
namespace {

Dataset together_dataset(size_t train, size_t validation, size_t rows, size_t classes, uint64_t seed) {
  return test::small_dataset(train, validation, rows, classes, seed, 300);
}

// rows x rows images with about `zeros` of their pixels zero (MNIST's background is ~80%).
LabelledImages images_with_zeros(size_t count, size_t rows, double zeros, uint64_t seed) {
  LabelledImages images = synthetic_images(count, rows, rows, 10, seed);
  Rng rng(seed + 1);
  for (uint8_t& p : images.pixels)
    if (rng.uniform() < zeros) p = 0;
  return images;
}

// K networks with their own eta, lambda (one of them 0) and mu: what a sweep's group differs in.
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

// Largest |a - b| over every parameter (0 when equal), to say how far apart two runs went.
double largest_difference(const Network& a, const Network& b) {
  double worst = 0;
  for (size_t l = 0; l < a.weights.size(); ++l) {
    for (size_t i = 0; i < a.weights[l].size(); ++i)
      worst = std::max(worst, std::abs(double(a.weights[l][i]) - double(b.weights[l][i])));
    for (size_t i = 0; i < a.biases[l].size(); ++i)
      worst = std::max(worst, std::abs(double(a.biases[l][i]) - double(b.biases[l][i])));
  }
  return worst;
}

// The same shape and every parameter the same bits (memcmp: -0 and +0 differ, NaN equals itself).
bool same_bits(const Network& a, const Network& b) {
  if (a.sizes != b.sizes || a.weights.size() != b.weights.size() || a.biases.size() != b.biases.size()) return false;
  for (size_t l = 0; l < a.weights.size(); ++l) {
    if (a.weights[l].size() != b.weights[l].size() || a.biases[l].size() != b.biases[l].size()) return false;
    if (std::memcmp(a.weights[l].data(), b.weights[l].data(), a.weights[l].size() * sizeof(float)) != 0) return false;
    if (std::memcmp(a.biases[l].data(), b.biases[l].data(), a.biases[l].size() * sizeof(float)) != 0) return false;
  }
  return true;
}

// One data set the K-networks test trains on.
struct TrainingData {
  std::string name;
  DataView view;
  bool prepare;  // the together backend lists the images once (Backend::prepare)
};

// How many nonzero pixels sample `s` of `data` has.
size_t nonzeros(const DataView& data, uint32_t s) {
  std::vector<uint8_t> pixels(data.dim);
  data.copy_sample(s, pixels.data());
  return size_t(std::count_if(pixels.begin(), pixels.end(), [](uint8_t p) { return p != 0; }));
}

// Whether some step of `orders` (K orders of `length`, batches of `batch`) has one network's batch
// sparse enough to be listed (CpuOps::gather_input: at most half its pixels nonzero) and another's
// not, so that the listed and the dense first layer run side by side in one step.
bool some_step_mixes_listed_and_dense(const DataView& data, const std::vector<uint32_t>& orders, size_t K,
                                      size_t length, size_t batch) {
  for (size_t start = 0; start < length; start += batch) {
    const size_t m = std::min(batch, length - start);
    bool listed = false, dense = false;
    for (size_t k = 0; k < K; ++k) {
      size_t nz = 0;
      for (size_t j = 0; j < m; ++j) nz += nonzeros(data, orders[k * length + start + j]);
      (double(nz) <= 0.5 * double(data.dim * m) ? listed : dense) = true;
    }
    if (listed && dense) return true;
  }
  return false;
}

// 995 samples (99 batches of 10 and a short one of 5, so the per-m scalars change) of K = 3
// networks, each on its own shuffle with its own eta, lambda and mu, in ONE make_cpu_backend(1)
// (load_all, and train_all in two calls of 500 and 495 samples), against 3 separate
// make_cpu_backend(1) each holding one network (one train call of 995): parameters, velocities
// and costs the same bits. On every kernel path this CPU runs, on three data sets: dense random
// images; images half zero, so that in one step some networks' batches are listed (sparse first
// layer) and others dense; and the shifted copies of images 70% zero, listed once by prepare().
// Two hidden layers, so the hidden deltas' GEMMs run too; each cost; with momentum and without.
TEST(KNetworks, TogetherEqualSeparateRunsBitForBit) {
  const Dataset dense = together_dataset(1500, 0, 10, 10, 21);
  const LabelledImages half = images_with_zeros(1500, 10, 0.5, 22), sparse = images_with_zeros(300, 10, 0.7, 23);
  const std::vector<TrainingData> sets = {{"dense", dense.train, false},
                                          {"half zeros", half.view(), false},
                                          {"shifted, prepared", sparse.view().shifted(), true}};
  const std::vector<size_t> sizes{100, 24, 16, 10};
  const size_t K = 3, length = 995, batch = 10;
  const std::string before = cpu_path();
  for (const std::string& path : runnable_cpu_paths()) {
    ASSERT_TRUE(set_cpu_path(path));
    for (const TrainingData& data : sets) {
      ASSERT_EQ(data.view.samples(), 1500u);
      std::vector<uint32_t> orders;
      for (size_t k = 0; k < K; ++k) {
        const auto o = epoch_permutation(40 + k, 0, data.view.samples());
        orders.insert(orders.end(), o.begin(), o.begin() + length);
      }
      if (data.name == "half zeros") {
        ASSERT_TRUE(some_step_mixes_listed_and_dense(data.view, orders, K, length, batch))
            << "the data no longer mix listed and dense batches in one step";
      }
      for (const Cost cost : {Cost::quadratic, Cost::cross_entropy, Cost::log_likelihood}) {
        for (const bool momentum : {false, true}) {
          const std::string what =
              path + ", " + data.name + ", " + cost_name(cost) + (momentum ? ", momentum" : ", no momentum");
          const std::vector<Hyper> hypers = group_hypers(K, cost, momentum, data.view.samples());
          std::vector<Network> start;
          for (size_t k = 0; k < K; ++k)
            start.push_back(initialise(sizes, k % 2 ? Init::scaled : Init::normal, 40 + k, output_layer(cost)));

          std::vector<Network> alone(K), alone_v(K);
          std::vector<double> alone_cost(K);
          for (size_t k = 0; k < K; ++k) {
            auto cpu = make_cpu_backend(1);
            cpu->load(start[k]);
            alone_cost[k] = cpu->train(data.view, std::span(orders).subspan(k * length, length), batch, hypers[k]);
            cpu->store(alone[k]);
            cpu->store_velocity(alone_v[k]);
          }

          auto cpu = make_cpu_backend(1);
          cpu->load_all(start);
          if (data.prepare) cpu->prepare(std::span(&data.view, 1));
          std::vector<double> costs(K, 0.0);
          for (const auto& [from, samples] : {std::pair<size_t, size_t>{0, 500}, {500, 495}}) {
            std::vector<uint32_t> part;
            for (size_t k = 0; k < K; ++k)
              part.insert(part.end(), orders.begin() + k * length + from, orders.begin() + k * length + from + samples);
            const std::vector<double> c = cpu->train_all(data.view, part, batch, hypers);
            ASSERT_EQ(c.size(), K) << what;
            for (size_t k = 0; k < K; ++k) costs[k] += c[k];
          }
          cpu->prepare({});
          std::vector<Network> together, together_v;
          cpu->store_all(together);
          cpu->store_velocities(together_v);
          ASSERT_EQ(together.size(), K) << what;
          ASSERT_EQ(together_v.size(), K) << what;
          for (size_t k = 0; k < K; ++k) {
            EXPECT_TRUE(same_bits(together[k], alone[k]))
                << what << ", network " << k << ": parameters differ from the network's own run by up to "
                << largest_difference(together[k], alone[k]);
            EXPECT_TRUE(same_bits(together_v[k], alone_v[k]))
                << what << ", network " << k << ": velocities differ from the network's own run by up to "
                << largest_difference(together_v[k], alone_v[k]);
            // The sums over two calls, against one call's: each call's costs start from zero, and
            // the 50 batches of the first call add up in the same order either way.
            EXPECT_NEAR(costs[k], alone_cost[k], 1e-9 * std::abs(alone_cost[k])) << what << ", network " << k;
            EXPECT_GT(parameter_distance(start[k], together[k]), 1e-2) << what << ", network " << k << " never moved";
            EXPECT_EQ(together[k].output, start[k].output) << what;
            if (momentum) {
              EXPECT_GT(parameter_distance(zero_network(sizes), together_v[k]), 1e-3) << what << ", network " << k;
            } else {
              EXPECT_EQ(parameter_distance(zero_network(sizes), together_v[k]), 0.0) << what << ", network " << k;
            }
          }
          // Networks apart: a stride of 0 (every network reading network 0's operands) would
          // make them agree.
          EXPECT_NE(together[0].weights, together[1].weights) << what;
        }
      }
    }
  }
  set_cpu_path(before);
}

// One call of 995 samples each against the same networks alone: the costs too are the same bits.
TEST(KNetworks, CostsOfOneCallEqualEachNetworkAlone) {
  const Dataset d = together_dataset(1000, 0, 10, 10, 24);
  const size_t K = 3, length = 995;
  const std::vector<Hyper> hypers = group_hypers(K, Cost::cross_entropy, true, 1000);
  std::vector<Network> start;
  std::vector<uint32_t> orders;
  for (size_t k = 0; k < K; ++k) {
    start.push_back(initialise({100, 20, 10}, Init::scaled, 70 + k));
    const auto o = epoch_permutation(70 + k, 0, 1000);
    orders.insert(orders.end(), o.begin(), o.begin() + length);
  }
  auto together = make_cpu_backend(1);
  together->load_all(start);
  const std::vector<double> costs = together->train_all(d.train, orders, 10, hypers);
  ASSERT_EQ(costs.size(), K);
  for (size_t k = 0; k < K; ++k) {
    auto cpu = make_cpu_backend(1);
    cpu->load(start[k]);
    EXPECT_EQ(costs[k], cpu->train(d.train, std::span(orders).subspan(k * length, length), 10, hypers[k])) << k;
  }
  EXPECT_NE(costs[0], costs[1]);
}

// Velocities loaded per network (a resumed group) continue as each network's own resumed run.
TEST(KNetworks, LoadedVelocitiesContinueEachNetworksRun) {
  const Dataset d = together_dataset(600, 0, 10, 10, 25);
  const size_t K = 3, length = 600;
  const std::vector<Hyper> hypers = group_hypers(K, Cost::quadratic, true, 600);
  std::vector<Network> nets, velocities;
  std::vector<uint32_t> orders;
  for (size_t k = 0; k < K; ++k) {
    // Each network's state after 300 samples of its own run: parameters and velocities.
    auto cpu = make_cpu_backend(1);
    cpu->load(initialise({100, 16, 10}, Init::normal, 80 + k));
    const auto o = epoch_permutation(80 + k, 0, 600);
    cpu->train(d.train, std::span(o).first(300), 10, hypers[k]);
    nets.emplace_back();
    velocities.emplace_back();
    cpu->store(nets.back());
    cpu->store_velocity(velocities.back());
    orders.insert(orders.end(), o.begin(), o.end());
  }
  auto together = make_cpu_backend(1);
  together->load_all(nets);
  together->load_velocities(velocities);
  std::vector<Network> back;
  together->store_velocities(back);
  ASSERT_EQ(back.size(), K);
  for (size_t k = 0; k < K; ++k) EXPECT_TRUE(same_bits(back[k], velocities[k])) << k;
  together->train_all(d.train, orders, 10, hypers);
  std::vector<Network> got, got_v;
  together->store_all(got);
  together->store_velocities(got_v);
  for (size_t k = 0; k < K; ++k) {
    auto cpu = make_cpu_backend(1);
    cpu->load(nets[k]);
    cpu->load_velocity(velocities[k]);
    cpu->train(d.train, std::span(orders).subspan(k * length, length), 10, hypers[k]);
    Network want, want_v;
    cpu->store(want);
    cpu->store_velocity(want_v);
    EXPECT_TRUE(same_bits(got[k], want)) << k << ": up to " << largest_difference(got[k], want);
    EXPECT_TRUE(same_bits(got_v[k], want_v)) << k << ": up to " << largest_difference(got_v[k], want_v);
  }
  // The wrong number of velocities, or of another shape, is refused.
  EXPECT_THROW(together->load_velocities(std::span(velocities).first(2)), Error);
  std::vector<Network> wrong(K, zero_network({100, 17, 10}));
  EXPECT_THROW(together->load_velocities(wrong), Error);
}

// The evaluation counts of K networks evaluated together (one input batch shared by all) are
// each network's alone, on one thread and on two (each with its own workspace), on dense images
// and on MNIST-like ones whose batches are listed as their nonzero pixels.
TEST(KNetworks, EvaluationCountsEqualEachNetworkAlone) {
  const Dataset d = together_dataset(600, 2345, 10, 10, 22);  // more than one chunk, and a short one
  const LabelledImages sparse = images_with_zeros(2345, 10, 0.8, 26);
  std::vector<Network> nets;
  for (size_t k = 0; k < 4; ++k) nets.push_back(initialise({100, 20, 10}, k % 2 ? Init::scaled : Init::normal, 50 + k));
  for (const DataView& view : {d.validation, sparse.view()}) {
    for (const int threads : {1, 2}) {
      auto cpu = make_cpu_backend(threads);
      cpu->load_all(nets);
      const std::vector<Evaluation> together = cpu->evaluate_all(view);
      ASSERT_EQ(together.size(), nets.size());
      for (size_t k = 0; k < nets.size(); ++k) {
        auto one = make_cpu_backend(1);
        one->load(nets[k]);
        const Evaluation alone = one->evaluate(view);
        EXPECT_EQ(together[k].correct, alone.correct) << k << " threads " << threads;
        EXPECT_EQ(together[k].predicted, alone.predicted) << k << " threads " << threads;
      }
      EXPECT_NE(together[0].predicted, together[2].predicted) << "different networks classified alike: a stride is 0";
    }
  }
}

// What one train_all call refuses, before any step (the parameters stay as loaded): momentum for
// some networks and not others (the two updates are different sequences of operations), orders
// whose length K does not divide, a Hyper count other than K, and two costs. Nor do the
// one-network calls serve a backend holding K networks, nor does load_all take two shapes.
TEST(KNetworks, WhatOneTrainCallRefuses) {
  const Dataset d = together_dataset(100, 0, 10, 10, 27);
  const size_t K = 3;
  std::vector<Network> nets;
  for (size_t k = 0; k < K; ++k) nets.push_back(initialise({100, 12, 10}, Init::scaled, 7 + k));
  std::vector<uint32_t> orders;
  for (size_t k = 0; k < K; ++k)
    for (uint32_t i = 0; i < 100; ++i) orders.push_back(i);
  auto cpu = make_cpu_backend(1);
  cpu->load_all(nets);
  const auto unchanged = [&](const std::string& what) {
    std::vector<Network> now;
    cpu->store_all(now);
    ASSERT_EQ(now.size(), K) << what;
    for (size_t k = 0; k < K; ++k) EXPECT_TRUE(same_bits(now[k], nets[k])) << what << ": network " << k << " changed";
  };

  for (const bool first_has_momentum : {false, true}) {
    std::vector<Hyper> mixed = group_hypers(K, Cost::cross_entropy, !first_has_momentum, 100);
    mixed[0].momentum = first_has_momentum ? 0.9 : 0.0;
    EXPECT_THROW(cpu->train_all(d.train, orders, 10, mixed), Error) << first_has_momentum;
    unchanged("momentum mixed");
  }
  const std::vector<Hyper> plain = group_hypers(K, Cost::cross_entropy, false, 100);
  EXPECT_THROW(cpu->train_all(d.train, std::span(orders).first(3 * 33 + 1), 10, plain), Error);
  EXPECT_THROW(cpu->train_all(d.train, std::span(orders).first(299), 10, plain), Error);
  EXPECT_THROW(cpu->train_all(d.train, orders, 10, std::span(plain).first(2)), Error);
  std::vector<Hyper> two_costs = plain;
  two_costs[1].cost = Cost::quadratic;
  EXPECT_THROW(cpu->train_all(d.train, orders, 10, two_costs), Error);
  unchanged("refused calls");

  Network one;
  EXPECT_THROW(cpu->store(one), Error);
  EXPECT_THROW(cpu->store_velocity(one), Error);
  EXPECT_THROW(cpu->train(d.train, std::span(orders).first(100), 10, plain[0]), Error);
  EXPECT_THROW(cpu->evaluate(d.train), Error);
  EXPECT_THROW(cpu->gradient(d.train, std::span(orders).first(10), plain[0], one), Error);
  unchanged("one-network calls");

  // All with momentum, or none, trains.
  EXPECT_NO_THROW(cpu->train_all(d.train, orders, 10, plain));
  EXPECT_NO_THROW(cpu->train_all(d.train, orders, 10, group_hypers(K, Cost::cross_entropy, true, 100)));

  std::vector<Network> shapes = nets;
  shapes[2] = initialise({100, 13, 10}, Init::scaled, 9);
  EXPECT_THROW(cpu->load_all(shapes), Error);
  shapes[2] = initialise({100, 12, 10}, Init::scaled, 9, Output::softmax);
  EXPECT_THROW(cpu->load_all(shapes), Error);
  EXPECT_THROW(cpu->load_all(std::span<const Network>()), Error);
}

// train_together against bp::train per network: every epoch report (cost, change, validation and
// test counts, schedule decisions) and the final parameters (and, with momentum, velocities), with
// schedules and early stopping that end some networks before others.
TEST(TrainTogether, EqualsTrainPerNetwork) {
  const Dataset d = together_dataset(400, 200, 8, 4, 23);
  const std::vector<size_t> sizes{64, 12, 4};
  for (const bool momentum : {false, true}) {
    const std::string what = momentum ? "momentum" : "no momentum";
    std::vector<TrainOptions> options(4);
    std::vector<Network> velocity(4), alone_velocity(4);
    for (size_t k = 0; k < options.size(); ++k) {
      TrainOptions& o = options[k];
      o.epochs = 6;
      o.batch_size = 7;  // 400 = 57 * 7 + 1: a short last batch
      o.seed = 3 + k;
      o.hyper.cost = Cost::cross_entropy;
      o.hyper.eta = (momentum ? 0.05 : 0.2) * double(k + 1);
      o.hyper.lambda = double(k);
      o.hyper.momentum = momentum ? 0.3 + 0.2 * double(k) : 0.0;
      o.plateau = k == 1 ? 1 : 0;
      o.early_stop = k == 2 ? 1 : 0;
    }
    std::vector<Network> nets;
    for (size_t k = 0; k < options.size(); ++k) nets.push_back(initialise(sizes, Init::scaled, 60 + k));
    std::vector<std::vector<EpochReport>> alone(options.size()), together(options.size());
    std::vector<Network> alone_nets = nets;
    std::vector<TrainOutcome> alone_out;
    for (size_t k = 0; k < options.size(); ++k) {
      auto cpu = make_cpu_backend(1);
      TrainOptions o = options[k];
      o.velocity = &alone_velocity[k];
      alone_out.push_back(train(*cpu, alone_nets[k], d, o, [&](const EpochReport& r) { alone[k].push_back(r); }));
    }
    for (size_t k = 0; k < options.size(); ++k) options[k].velocity = &velocity[k];
    auto cpu = make_cpu_backend(1);
    const std::vector<TrainOutcome> out =
        train_together(*cpu, nets, d, options, [&](size_t k, const EpochReport& r) { together[k].push_back(r); });
    ASSERT_EQ(out.size(), options.size());
    for (size_t k = 0; k < options.size(); ++k) {
      ASSERT_EQ(together[k].size(), alone[k].size()) << what << ", network " << k;
      for (size_t e = 0; e < alone[k].size(); ++e) {
        const EpochReport &a = alone[k][e], &b = together[k][e];
        EXPECT_EQ(a.eta, b.eta);
        EXPECT_EQ(a.training_cost, b.training_cost) << what << ", network " << k << " epoch " << e;
        EXPECT_EQ(a.parameter_change, b.parameter_change) << what << ", network " << k << " epoch " << e;
        EXPECT_EQ(a.validation_correct, b.validation_correct);
        EXPECT_EQ(a.validation_predicted, b.validation_predicted);
        EXPECT_EQ(a.test_correct, b.test_correct);
        EXPECT_EQ(a.schedule, b.schedule);
      }
      EXPECT_EQ(out[k].status, alone_out[k].status) << what << ", network " << k;
      EXPECT_EQ(out[k].epoch, alone_out[k].epoch) << what << ", network " << k;
      EXPECT_TRUE(same_bits(nets[k], alone_nets[k]))
          << what << ", network " << k << ": up to " << largest_difference(nets[k], alone_nets[k]);
      EXPECT_TRUE(same_bits(out[k].best, alone_out[k].best)) << what << ", network " << k;
      if (momentum) {
        EXPECT_TRUE(same_bits(velocity[k], alone_velocity[k])) << what << ", network " << k;
        EXPECT_GT(parameter_distance(zero_network(sizes), velocity[k]), 0.0) << what << ", network " << k;
      } else {
        EXPECT_TRUE(velocity[k].sizes.empty()) << "velocities touched without momentum";
      }
    }
    EXPECT_LT(together[2].size(), 6u) << what << ": early stopping never ended network 2 (the test would not cover it)";
    EXPECT_EQ(together[0].size(), 6u) << what;
  }
}

// Networks that disagree on what one train_all call shares are refused.
TEST(TrainTogether, OptionsTheNetworksMustShareAreChecked) {
  const Dataset d = together_dataset(100, 50, 8, 4, 28);
  std::vector<Network> nets(2, initialise({64, 8, 4}, Init::scaled, 5));
  std::vector<Network> velocity(2);
  const auto refused = [&](const std::string& what, const std::function<void(TrainOptions&)>& change) {
    std::vector<TrainOptions> options(2);
    for (TrainOptions& o : options) {
      o.epochs = 1;
      o.velocity = &velocity[&o - options.data()];
    }
    change(options[1]);
    auto cpu = make_cpu_backend(1);
    std::vector<Network> copy = nets;
    EXPECT_THROW(train_together(*cpu, copy, d, options, [](size_t, const EpochReport&) {}), Error) << what;
  };
  refused("batch size", [](TrainOptions& o) { o.batch_size = 5; });
  refused("epochs", [](TrainOptions& o) { o.epochs = 2; });
  refused("momentum", [](TrainOptions& o) { o.hyper.momentum = 0.5; });
  refused("cost", [](TrainOptions& o) {
    o.hyper.cost = o.hyper.cost == Cost::quadratic ? Cost::cross_entropy : Cost::quadratic;
  });
  refused("shifts", [](TrainOptions& o) { o.shifts = true; });
  std::vector<TrainOptions> one(1);
  auto cpu = make_cpu_backend(1);
  EXPECT_THROW(train_together(*cpu, nets, d, one, [](size_t, const EpochReport&) {}), Error);
}

sweep::Plan plan(const std::string& layers, double eta, uint64_t batch, double momentum = 0,
                 std::string expand = "none") {
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
  const std::vector<sweep::Plan> plans = {plan("784,30,10", 0.5, 10),    plan("784,15,10", 0.5, 10),
                                          plan("784,30,10", 3, 10),      plan("784,30,10", 1, 32),
                                          plan("784,30,10", 9, 10),      plan("784,15,10", 3, 10),
                                          plan("784,30,10", 2, 10, 0.9), plan("784,30,10", 4, 10, 0, "shifts"),
                                          plan("784,30,10", 5, 10)};
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

// A group trained together on one K-network CPU backend gives what run_plans gives training
// each network alone: the same parameters, and every epoch's validation count. With momentum mu
// as well (group_plans groups networks that all use it).
void check_groups_train_as_run_plans_do(double momentum) {
  const Dataset d = together_dataset(300, 100, 8, 4, 24);
  std::vector<sweep::Plan> plans;
  for (uint64_t k = 0; k < 3; ++k) {
    const double eta = (momentum != 0 ? 0.1 : 0.5) + double(k), mu = momentum == 0 ? 0 : momentum + 0.1 * double(k);
    sweep::Plan p = plan("64,10,4", eta, 10, mu);
    p.run.index = k;
    p.run.settings.epochs = 3;
    p.run.settings.seed = k + 1;
    p.run.settings.lambda = double(k);
    p.run.settings.momentum = p.hyper.momentum;
    p.hyper.lambda = double(k);
    p.hyper.cost = Cost::quadratic;
    plans.push_back(p);
  }
  ASSERT_EQ(sweep::group_plans(plans, 0).groups, (std::vector<std::vector<size_t>>{{0, 1, 2}}));
  std::vector<sweep::Plan> grouped = plans;
  sweep::RunnerOptions options;
  options.backend.device = Device::cpu;
  options.backend.threads = 1;
  std::vector<Network> a(3), b(3);
  ASSERT_TRUE(sweep::run_plans(
      plans, d, options, [](const sweep::NetworkRun&, const EpochReport&) {},
      [&](const sweep::NetworkRun& r, const Network& n, const TrainOutcome&) { a[r.index] = n; }));
  size_t asked = 0;
  const std::unique_ptr<Backend> cpu = make_cpu_backend(1);
  const sweep::BackendFor backend_for = [&](const sweep::Plan& first) -> Backend& {
    ++asked;
    EXPECT_EQ(first.run.index, grouped[0].run.index);
    return *cpu;
  };
  ASSERT_TRUE(sweep::run_groups(
      grouped, {{0, 1, 2}}, d, backend_for, nullptr, [](const sweep::NetworkRun&, const EpochReport&) {},
      [&](const sweep::NetworkRun& r, const Network& n, const TrainOutcome&) { b[r.index] = n; }));
  EXPECT_EQ(asked, 1u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_TRUE(same_bits(a[k], b[k])) << k << ": up to " << largest_difference(a[k], b[k]);
    ASSERT_EQ(plans[k].run.epochs.size(), grouped[k].run.epochs.size());
    for (size_t e = 0; e < plans[k].run.epochs.size(); ++e) {
      EXPECT_EQ(plans[k].run.epochs[e].validation_correct, grouped[k].run.epochs[e].validation_correct);
      EXPECT_EQ(plans[k].run.epochs[e].training_cost, grouped[k].run.epochs[e].training_cost);
    }
  }
}

TEST(SweepGroups, GroupsTrainAsRunPlansDoes) { check_groups_train_as_run_plans_do(0); }
TEST(SweepGroups, MomentumGroupsTrainAsRunPlansDo) { check_groups_train_as_run_plans_do(0.5); }

TEST(SweepGroups, GroupSizeWithoutTheGpuIsAUsageError) {
  const auto r = test::run_backprop("sweep --device cpu --group-size 4 --seeds 1-2 --data /nonexistent");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--group-size applies to --device cuda only"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace bp
