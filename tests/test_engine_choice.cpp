// --device auto's cost model (train/engine_choice.hpp): the book network at mini-batch 10 goes
// to the CPU, a big network at a big batch to a real GPU, the emulated device never, and the
// one-line reason names the predictions and what they rest on.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <utility>

#include "train/engine_choice.hpp"

namespace bp {
namespace {

const std::vector<size_t> kBook{784, 30, 10}, kBig{784, 1000, 1000, 10};

StepWorkload workload(const std::vector<size_t>& sizes, size_t batch, int threads = 1) {
  StepWorkload w;
  w.sizes = sizes;
  w.batch = batch;
  w.threads = threads;
  return w;
}

EngineAvailability real_gpu() {
  EngineAvailability a;
  a.cuda = true;
  return a;
}

EngineAvailability emulated_gpu() {
  EngineAvailability a;
  a.cuda_emulated = true;
  return a;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(EngineChoice, CountsTheGraphNodesOfAStep) {
  EXPECT_EQ(cuda_nodes_per_step(kBook), 12u);  // gather, 2 x (GEMM, sigmoid), delta, GEMM, delta, 2 x (GEMM, row sums)
  EXPECT_EQ(cuda_nodes_per_step(kBig), 18u);
  EXPECT_EQ(cuda_nodes_per_step({784, 10}), 6u);
}

TEST(EngineChoice, CountsTheStepsFlops) {
  CostFigures dense;
  dense.input_density = 1;
  // bench's flops_per_sample for 784-30-10 (95,880) times the batch.
  EXPECT_DOUBLE_EQ(step_flops(kBook, 10, dense), 958800.0);
  CostFigures sparse;
  sparse.input_density = 0.25;
  EXPECT_DOUBLE_EQ(step_flops(kBook, 10, sparse), 10 * (4.0 * 784 * 30 * 0.25 + 6.0 * 30 * 10));
}

TEST(EngineChoice, TheBookNetworkAtMiniBatch10GoesToTheCpu) {
  const EngineChoice c = choose_engine(workload(kBook, 10), real_gpu());
  EXPECT_EQ(c.engine, Engine::cpu) << c.reason;
  ASSERT_EQ(c.predictions.size(), 2u);
  EXPECT_EQ(c.predictions[0].engine, Engine::cpu);
  EXPECT_EQ(c.predictions[1].engine, Engine::cuda);
  // The figures: a few µs on one core against 12 launches at ~3 µs.
  EXPECT_GT(c.predictions[0].us_per_step, 2.0);
  EXPECT_LT(c.predictions[0].us_per_step, 12.0);
  EXPECT_DOUBLE_EQ(c.predictions[1].us_per_step, 36.0);
  // Threads do not help a step this small.
  EXPECT_DOUBLE_EQ(predict(Engine::cpu, workload(kBook, 10, 64)).us_per_step, c.predictions[0].us_per_step);
}

TEST(EngineChoice, ABigNetworkAtABigBatchGoesToARealGpu) {
  const EngineChoice c = choose_engine(workload(kBig, 1000), real_gpu());
  EXPECT_EQ(c.engine, Engine::cuda) << c.reason;
  ASSERT_EQ(c.predictions.size(), 2u);
  EXPECT_LT(c.predictions[0].us_per_step * 10, c.predictions[1].us_per_step);
  EXPECT_TRUE(contains(c.predictions[0].basis, "FLOP per step")) << c.predictions[0].basis;  // not launch-bound
  // More threads shorten the CPU's prediction of a step this big.
  EXPECT_LT(predict(Engine::cpu, workload(kBig, 1000, 8)).us_per_step,
            predict(Engine::cpu, workload(kBig, 1000, 1)).us_per_step);
}

TEST(EngineChoice, TheEmulatedDeviceIsNeverChosen) {
  for (const auto& [sizes, batch] : {std::pair{kBook, size_t(10)}, {kBig, 1000}, {kBig, 10}}) {
    const EngineChoice c = choose_engine(workload(sizes, batch), emulated_gpu());
    EXPECT_EQ(c.engine, Engine::cpu) << c.reason;
    ASSERT_EQ(c.predictions.size(), 1u);
    EXPECT_TRUE(contains(c.reason, "emulation")) << c.reason;
  }
  const EngineChoice unknown = choose_engine(StepWorkload{}, emulated_gpu());
  EXPECT_EQ(unknown.engine, Engine::cpu) << unknown.reason;
  EXPECT_TRUE(contains(unknown.reason, "emulation")) << unknown.reason;
}

TEST(EngineChoice, WithoutAWorkloadARealGpuIsTakenAsBefore) {
  EXPECT_EQ(choose_engine(StepWorkload{}, real_gpu()).engine, Engine::cuda);
  EXPECT_EQ(choose_engine(StepWorkload{}, EngineAvailability{}).engine, Engine::cpu);
  EXPECT_TRUE(choose_engine(StepWorkload{}, real_gpu()).predictions.empty());
}

EngineAvailability every_engine() {
  EngineAvailability a;
  a.cuda = a.fused = true;
  return a;
}

TEST(EngineChoice, TheFusedEngineIsOfferedWhereARealGpuIs) {
  EXPECT_EQ(available_engines().fused, available_engines().cuda);  // never on the emulated device
  EXPECT_FALSE(available_engines().cuda_emulated && available_engines().cuda);
}

// The fused prediction follows the kernel's loops: more live inputs, more instructions; the
// book's step at mini-batch 10 a few µs, under the CPU's and far under cuBLAS's 36.
TEST(EngineChoice, TheFusedEngineIsPredictedFromItsKernelsLoops) {
  EXPECT_NEAR(batch_density(1), 0.19, 1e-12);
  EXPECT_NEAR(batch_density(10), 0.49, 1e-12);
  EXPECT_LT(batch_density(10), batch_density(20));
  EXPECT_LT(batch_density(20), batch_density(30));
  EXPECT_LT(fused_instructions(kBook, 10, 0.2), fused_instructions(kBook, 10, 0.5));
  EXPECT_LT(fused_instructions({784, 15, 10}, 10, 0.5), fused_instructions(kBook, 10, 0.5));
  const EngineChoice c = choose_engine(workload(kBook, 10), every_engine());
  EXPECT_EQ(c.engine, Engine::fused) << c.reason;
  ASSERT_EQ(c.predictions.size(), 3u);
  EXPECT_GT(c.predictions[0].us_per_step, 1.0);
  EXPECT_LT(c.predictions[0].us_per_step, 10.0);
  EXPECT_TRUE(contains(c.predictions[0].basis, "barriers per step on one SM, mini-batch 10")) << c.predictions[0].basis;
}

// --device auto must never take an engine its model predicts slower than another available one.
TEST(EngineChoice, TheChosenEngineIsNeverPredictedSlower) {
  for (const auto& [sizes, batch] :
       {std::pair{kBook, size_t(10)}, {kBook, 100}, {std::vector<size_t>{784, 15, 10}, 1}, {kBig, 1000}, {kBig, 10}}) {
    for (const EngineAvailability& a : {every_engine(), real_gpu(), EngineAvailability{}}) {
      const EngineChoice c = choose_engine(workload(sizes, batch), a);
      ASSERT_FALSE(c.predictions.empty());
      EXPECT_EQ(c.engine, c.predictions[0].engine) << c.reason;
      for (const EnginePrediction& p : c.predictions)
        EXPECT_LE(c.predictions[0].us_per_step, p.us_per_step) << c.reason;
    }
  }
  EngineAvailability gpu_only = every_engine();
  gpu_only.cpu = false;  // --device cuda --engine auto: the two GPU engines only
  const EngineChoice c = choose_engine(workload(kBook, 10), gpu_only);
  ASSERT_EQ(c.predictions.size(), 2u);
  for (const EnginePrediction& p : c.predictions) EXPECT_NE(p.engine, Engine::cpu);
}

TEST(EngineChoice, TheReasonNamesTheNumbers) {
  const EngineChoice c = choose_engine(workload(kBook, 10), real_gpu());
  const std::string& r = c.reason;
  EXPECT_EQ(r.find('\n'), std::string::npos) << r;
  EXPECT_EQ(r.rfind("cpu (predicted ", 0), 0u) << r;
  char cpu_us[16];
  std::snprintf(cpu_us, sizeof cpu_us, "%.1f", c.predictions[0].us_per_step);
  EXPECT_TRUE(contains(r, std::string("predicted ") + cpu_us + " µs/step")) << r;
  EXPECT_TRUE(contains(r, "against 36 µs/step for cuda: 12 dependent launches per step at mini-batch 10")) << r;

  const EngineChoice big = choose_engine(workload(kBig, 1000), real_gpu());
  EXPECT_EQ(big.reason.rfind("cuda (predicted ", 0), 0u) << big.reason;
  EXPECT_TRUE(contains(big.reason, "for cpu: ")) << big.reason;
  EXPECT_TRUE(contains(big.reason, "GFLOP per step at")) << big.reason;
  EXPECT_TRUE(contains(big.reason, "on 1 thread, mini-batch 1000")) << big.reason;
}

}  // namespace
}  // namespace bp
