// The fused engine (kernels/fused_step.cuh) against the CPU backend: K networks with different
// hyper-parameters, each cost, with and without momentum, L2 and one-pixel shifts, after 102 steps
// (101 of 10 and a short one of 5; also mini-batches of 7 and 12); a run split into chunks and carried across backends
// equal to one call, bit for bit; one MNIST epoch within 0.3 points of the CPU; and the one-line refusals. Like every
// GPU test these skip where no device is usable and fail under BACKPROP_REQUIRE_GPU=1; in the emulation build they run
// on the emulated device, which checks the kernel's shared memory, barriers and launch limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <span>
#include <string>

#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/fused_plan.hpp"
#include "cuda_test_helpers.hpp"
#include "helpers.hpp"
#include "reference/compare.hpp"
#include "train/trainer.hpp"

namespace bp {
namespace {

std::unique_ptr<Backend> make_fused() { return make_cuda_backend(false, true, CudaEngine::fused); }

// Random images with MNIST's kind of zeros: a 4-pixel blank border and about 60% of the rest
// blank, so that the kernel's skipping of inputs zero in a whole batch is exercised.
LabelledImages bordered_sparse_images(size_t count, uint64_t seed) {
  LabelledImages images = synthetic_images(count, 28, 28, 10, seed);
  for (size_t i = 0; i < images.pixels.size(); ++i) {
    const size_t r = i % 784 / 28, c = i % 28;
    if (r < 4 || r >= 24 || c < 4 || c >= 24 || images.pixels[i] < 150) images.pixels[i] = 0;
  }
  return images;
}

using test::Group;
using test::make_group;

struct FusedCase {
  std::vector<size_t> sizes;
  size_t K;
  Cost cost;
  bool momentum, shifts;
  size_t batch = 10;
};

// Parameters within 1e-3 of the CPU's (the cuBLAS engine's bound: float32 sums in another order
// over 102 steps), velocities within 1e-4, each network's summed cost within 1e-4 relative.
// 784-30-10 with momentum keeps its velocities in global memory, 784-15-10 in shared memory.
// Mini-batch 10 runs the kernel compiled for it, 7 and 12 the one for any batch.
TEST(FusedEngine, StaysWithSeparateCpuRunsForAHundredSteps) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = bordered_sparse_images(1100, 21);  // at least the 1,015 samples of an order
  const size_t length = 1015;
  for (const FusedCase& c : {FusedCase{{784, 30, 10}, 1, Cost::quadratic, false, false},
                             FusedCase{{784, 30, 10}, 3, Cost::quadratic, false, true},
                             FusedCase{{784, 15, 10}, 3, Cost::quadratic, true, false},
                             FusedCase{{784, 30, 10}, 3, Cost::cross_entropy, true, false},
                             FusedCase{{784, 15, 10}, 3, Cost::cross_entropy, false, true},
                             FusedCase{{784, 15, 10}, 3, Cost::log_likelihood, false, false},
                             FusedCase{{784, 15, 10}, 8, Cost::log_likelihood, true, true},
                             FusedCase{{784, 20, 12, 10}, 3, Cost::cross_entropy, true, false},
                             FusedCase{{784, 30, 10}, 3, Cost::quadratic, false, true, 7},
                             FusedCase{{784, 15, 10}, 3, Cost::log_likelihood, true, false, 12}}) {
    const DataView data = c.shifts ? images.view().shifted() : images.view();
    const std::string what = "K=" + std::to_string(c.K) + " " + format_layers(c.sizes) + " " + cost_name(c.cost) +
                             (c.momentum ? " momentum" : "") + (c.shifts ? " shifts" : "") + " batch " +
                             std::to_string(c.batch);
    const Group g = make_group(c.sizes, c.K, c.cost, c.momentum, data.samples(), length, 40 + c.K);
    auto gpu = make_fused();
    gpu->load_all(g.start);
    const std::vector<double> costs = gpu->train_all(data, g.orders, c.batch, g.hypers);
    std::vector<Network> got, got_v;
    gpu->store_all(got);
    gpu->store_velocities(got_v);
    ASSERT_EQ(got.size(), c.K) << what;
    double worst = 0, worst_v = 0;
    for (size_t k = 0; k < c.K; ++k) {
      auto cpu = make_cpu_backend(1);
      cpu->load(g.start[k]);
      const double cost =
          cpu->train(data, std::span<const uint32_t>(g.orders.data() + k * length, length), c.batch, g.hypers[k]);
      Network want, want_v;
      cpu->store(want);
      cpu->store_velocity(want_v);
      worst = std::max(worst, compare(flat_parameters(want), flat_parameters(got[k]), 1e-3).max_abs);
      worst_v = std::max(worst_v, compare(flat_parameters(want_v), flat_parameters(got_v[k]), 1e-3).max_abs);
      EXPECT_NEAR(costs[k], cost, 1e-4 * std::abs(cost)) << what << " network " << k;
      EXPECT_GT(parameter_distance(g.start[k], got[k]), 1e-3) << what << " network " << k << " never moved";
    }
    std::cout << what << ": after " << (length + c.batch - 1) / c.batch << " steps max |fused - cpu| parameters "
              << worst << ", velocities " << worst_v << "\n";
    EXPECT_LT(worst, 1e-3) << what;  // infinite if any parameter is NaN
    EXPECT_LT(worst_v, 1e-4) << what;
  }
}

// The parameters and velocities leave the blocks at the end of every call, so a run in chunks,
// and one carried to a second backend (a resumed checkpoint), is the single call's bit for bit.
TEST(FusedEngine, ChunksAndResumedRunsEqualOneCall) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = bordered_sparse_images(1100, 22);
  for (const std::vector<size_t>& sizes : {std::vector<size_t>{784, 15, 10}, std::vector<size_t>{784, 30, 10}}) {
    const Group g = make_group(sizes, 3, Cost::cross_entropy, true, 1100, 1015, 60);
    const auto part = [&](size_t begin, size_t end) { return test::part(g, 1015, begin, end); };
    auto whole = make_fused();
    whole->load_all(g.start);
    whole->train_all(images.view(), g.orders, 10, g.hypers);
    std::vector<Network> want, want_v;
    whole->store_all(want);
    whole->store_velocities(want_v);

    auto first = make_fused();
    first->load_all(g.start);
    first->train_all(images.view(), part(0, 300), 10, g.hypers);
    first->train_all(images.view(), part(300, 500), 10, g.hypers);
    std::vector<Network> mid, mid_v;
    first->store_all(mid);
    first->store_velocities(mid_v);
    auto second = make_fused();
    second->load_all(mid);
    second->load_velocities(mid_v);
    second->train_all(images.view(), part(500, 1015), 10, g.hypers);
    std::vector<Network> got, got_v;
    second->store_all(got);
    second->store_velocities(got_v);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(got[k].weights, want[k].weights) << format_layers(sizes) << " network " << k;
      EXPECT_EQ(got[k].biases, want[k].biases) << format_layers(sizes) << " network " << k;
      EXPECT_EQ(got_v[k].weights, want_v[k].weights) << format_layers(sizes) << " network " << k;
    }
  }
}

TEST(FusedEngine, OneMnistEpochWithinAThirdOfAPointOfTheCpu) {
  SKIP_WITHOUT_GPU();
  const std::string dir = test::required_mnist_dir();  // a failure under BACKPROP_REQUIRE_DATA=1
  if (dir.empty()) GTEST_SKIP() << "MNIST not found";
  const Dataset d = load_dataset(dir, {5000, 0});
  size_t correct[2] = {0, 0};
  for (int g = 0; g < 2; ++g) {
    auto backend = g ? make_fused() : make_cpu_backend(0);
    correct[g] = test::one_epoch_correct(*backend, d, Init::normal);
  }
  std::cout << "one epoch on 5,000 images: cpu " << correct[0] << ", fused " << correct[1] << " / 10000\n";
  EXPECT_GT(correct[0], 6000u);                                        // it learned (chance is 1,000)
  EXPECT_LE(std::abs(double(correct[0]) - double(correct[1])), 30.0);  // 0.3 points
}

// 784-100-10's 318 KB of parameters cannot sit in one block's 227 KiB: one sentence saying so,
// from the library and from each command, and nothing trained.
TEST(FusedEngine, ANetworkTooLargeForABlockIsRefusedInOneLine) {
  SKIP_WITHOUT_GPU();
  const FusedPlan plan = plan_fused({784, 100, 10}, 10, false, 227 * 1024);
  EXPECT_FALSE(plan.fits());
  EXPECT_NE(plan.why_not.find("784,100,10 at mini-batch 10 needs 3"), std::string::npos) << plan.why_not;
  EXPECT_TRUE(plan_fused({784, 30, 10}, 10, true, 227 * 1024).fits());
  EXPECT_FALSE(plan_fused({784, 30, 10}, 10, true, 227 * 1024).shape.velocity_shared);  // 2 x 95 KB and the batch
  EXPECT_TRUE(plan_fused({784, 15, 10}, 10, true, 227 * 1024).shape.velocity_shared);
  EXPECT_FALSE(plan_fused({784, 30, 10}, 300, false, 227 * 1024).fits());  // more samples than threads
  EXPECT_NE(fused_engine_why_not({784, 100, 10}, 10).find("KiB"), std::string::npos);
  EXPECT_EQ(fused_engine_why_not({784, 30, 10}, 10), "");

  auto gpu = make_fused();
  const LabelledImages images = bordered_sparse_images(100, 23);
  const Network start = initialise({784, 100, 10}, Init::scaled, 1);
  gpu->load(start);
  const auto order = epoch_permutation(1, 0, 100);
  EXPECT_THROW(gpu->train(images.view(), order, 10, Hyper{}), Error);
  Network after;
  gpu->store(after);
  EXPECT_EQ(after.weights, start.weights);

  test::TempDir dir;
  test::write_fake_mnist(dir.path().string(), 200, 100, 28, 28, 10, false);
  const std::string train =
      test::backprop_binary() + " train --data " + dir.path().string() + " --epochs 1 --device cuda ";
  for (const std::string& flags : {std::string("--engine fused --layers 784,100,10"),
                                   std::string("--engine fused --streamed"), std::string("--engine nope")}) {
    const test::RunResult r = test::run_shell(train + flags);
    EXPECT_NE(r.exit_code, 0) << flags << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << flags << "\n" << r.output;
  }
  const test::RunResult cpu = test::run_shell(test::backprop_binary() + " train --data " + dir.path().string() +
                                              " --epochs 1 --device cpu --engine fused");
  EXPECT_NE(cpu.exit_code, 0) << cpu.output;
}

}  // namespace
}  // namespace bp
