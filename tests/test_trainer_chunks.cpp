// The trainer hands the epoch to the backend in chunks that are a whole multiple of the backend's
// preferred number of steps (the CUDA backend's graph length), so no step of a full chunk runs
// outside a graph: 150,000 images at mini-batch 10 used to give 150-step chunks.
#include <gtest/gtest.h>

#include "train/trainer.hpp"

namespace bp {
namespace {

// Records the length of each network's order in every train_all() call; learns nothing.
class ChunkRecorder final : public Backend {
 public:
  explicit ChunkRecorder(size_t steps) : steps_(steps) {}
  std::string name() const override { return "recording"; }
  void load_all(std::span<const Network> nets) override { nets_.assign(nets.begin(), nets.end()); }
  void store_all(std::vector<Network>& nets) override { nets = nets_; }
  void load_velocities(std::span<const Network>) override {}
  void store_velocities(std::vector<Network>& velocities) override { velocities = nets_; }
  std::vector<double> train_all(const DataView&, std::span<const uint32_t> orders, size_t,
                                std::span<const Hyper> hypers) override {
    calls.push_back(orders.size() / hypers.size());
    networks.push_back(hypers.size());
    return std::vector<double>(hypers.size(), 0.0);
  }
  size_t preferred_steps() const override { return steps_; }
  std::vector<Evaluation> evaluate_all(const DataView&) override { return std::vector<Evaluation>(nets_.size()); }
  double gradient(const DataView&, std::span<const uint32_t>, const Hyper&, Network&) override { return 0; }
  std::vector<size_t> calls, networks;

 private:
  size_t steps_;
  std::vector<Network> nets_;
};

std::vector<size_t> chunks(size_t n, size_t batch, size_t steps) {
  Dataset data;
  data.train.count = n;
  data.train.dim = 1;
  ChunkRecorder backend(steps);
  Network net = zero_network({1, 1});
  TrainOptions o;
  o.epochs = 1;
  o.batch_size = batch;
  o.evaluate_validation = o.evaluate_test = false;
  train(backend, net, data, o, [](const EpochReport&) {});
  return backend.calls;
}

TEST(TrainerChunks, FullChunksAreMultiplesOfThePreferredSteps) {
  struct Case {
    size_t n, batch, steps;
  };
  for (const Case c : {Case{150000, 10, 100}, Case{50000, 10, 100}, Case{60000, 7, 64}, Case{1000, 10, 100},
                       Case{50000, 10, 1}, Case{12345, 3, 1}}) {
    const std::vector<size_t> calls = chunks(c.n, c.batch, c.steps);
    const std::string what =
        std::to_string(c.n) + " images, batch " + std::to_string(c.batch) + ", steps " + std::to_string(c.steps);
    ASSERT_FALSE(calls.empty()) << what;
    size_t total = 0;
    for (size_t i = 0; i < calls.size(); ++i) {
      total += calls[i];
      if (i + 1 < calls.size()) {
        EXPECT_EQ(calls[i] % (c.steps * c.batch), 0u) << what << ", call " << i;
      }
    }
    EXPECT_EQ(total, c.n) << what;
    if (c.steps == 1) {
      EXPECT_GE(calls.size(), std::min<size_t>(100, c.n / c.batch)) << what;  // ~1% of an epoch each
    }
  }
  EXPECT_EQ(chunks(150000, 10, 100).front(), 2000u);  // 150 steps rounded up to 200
}

// train_together hands every call all K networks' orders, each of the one-network chunk's length.
TEST(TrainerChunks, NetworksTogetherGetTheSameChunksInOneCall) {
  Dataset data;
  data.train.count = 60000;
  data.train.dim = 1;
  ChunkRecorder backend(64);
  std::vector<Network> nets(3, zero_network({1, 1}));
  std::vector<TrainOptions> options(3);
  for (size_t k = 0; k < options.size(); ++k) {
    options[k].epochs = 1;
    options[k].batch_size = 7;
    options[k].seed = k + 1;
    options[k].evaluate_validation = options[k].evaluate_test = false;
  }
  train_together(backend, nets, data, options, [](size_t, const EpochReport&) {});
  EXPECT_EQ(backend.calls, chunks(60000, 7, 64));
  EXPECT_EQ(backend.networks, std::vector<size_t>(backend.calls.size(), 3u));
}

}  // namespace
}  // namespace bp
