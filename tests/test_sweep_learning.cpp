// `backprop sweep --train-size LIST` (issue 26, item 3): each network trains on a prefix of the one
// data set loaded, exactly as `backprop train --train-size N` would, and the learning curve's
// points are the final test accuracies' mean, lowest and highest over seeds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "sweep/learning.hpp"

#include "helpers.hpp"

namespace bp {
namespace {

using test::run_backprop;

std::vector<nlohmann::json> records(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    for (const char* key : {"train_seconds", "eval_seconds", "samples_per_second"}) j.erase(key);
    out.push_back(j);
  }
  return out;
}

TEST(SweepLearning, EachTrainSizeEqualsTrainWithThatSizeAndTheCurveIsDrawn) {
  test::TempDir dir;
  test::write_fake_mnist(dir.path().string(), 300, 50, 4, 4, 3, true);
  const std::string data = "--data " + dir.path().string() + " --validation-size 100";
  const std::string log = dir.file("sweep.jsonl"), out = dir.file("out");
  const auto r = run_backprop("sweep " + data +
                              " --layers 16,5,3 16,4,3 --train-size 50,120,200 --seeds 1-2 --epochs 2 --threads 2 "
                              "--log " +
                              log + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::is_regular_file(out + "/learning_curve.png")) << r.output;
  std::map<uint64_t, std::vector<nlohmann::json>> by_network;
  for (const auto& j : records(log)) by_network[j["network"].get<uint64_t>()].push_back(j);
  ASSERT_EQ(by_network.size(), 12u);
  for (uint64_t index : {0, 3, 5, 10}) {  // sizes 50, 120, 200 and 50 again, on both shapes
    const auto& s = by_network[index].front()["settings"];
    ASSERT_EQ(by_network[index].front()["samples"], std::stoul(s["train_size"].get<std::string>()));
    const std::string train_log = dir.file("train" + std::to_string(index) + ".jsonl");
    const auto t = run_backprop("train " + data + " --device cpu --quiet --epochs 2 --layers " +
                                s["layers"].get<std::string>() + " --seed " + s["seed"].get<std::string>() +
                                " --train-size " + s["train_size"].get<std::string>() + " --log " + train_log);
    ASSERT_EQ(t.exit_code, 0) << t.output;
    const auto expected = records(train_log);
    ASSERT_EQ(expected.size(), by_network[index].size());
    for (size_t e = 0; e < expected.size(); ++e)
      for (const auto& [key, value] : expected[e].items())
        EXPECT_EQ(by_network[index][e][key], value) << "network " << index << " epoch " << e << " " << key;
  }
}

TEST(SweepLearning, SeriesHoldTheMeanAndTheBandOverSeedsPerShape) {
  const std::vector<sweep::Axis> axes = {
      {"--layers", {"784,15,10", "784,30,10"}}, {"--train-size", {"1000", "500"}}, {"--seeds", {"1", "2"}}};
  std::vector<sweep::NetworkRun> runs;
  const size_t correct[8] = {80, 90, 60, 70, 85, 95, 50, 40};  // of 100, in grid order
  for (uint64_t i = 0; i < 8; ++i) {
    sweep::NetworkRun run;
    run.index = i;
    run.point = {axes[0].values[i / 4], axes[1].values[i / 2 % 2], axes[2].values[i % 2]};
    EpochReport r;
    r.test_correct = correct[i];
    r.test_count = 100;
    run.epochs.push_back(r);
    runs.push_back(run);
  }
  runs[7].epochs.back().finite = false;  // a diverged network counts 0, as in the table
  const auto series = sweep::learning_series(axes, runs);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].label, "784-15-10");
  EXPECT_EQ(series[1].label, "784-30-10");
  EXPECT_EQ(series[0].images, (std::vector<double>{500, 1000}));  // ascending, not grid order
  EXPECT_EQ(series[0].mean, (std::vector<double>{65, 85}));
  EXPECT_EQ(series[0].low, (std::vector<double>{60, 80}));
  EXPECT_EQ(series[0].high, (std::vector<double>{70, 90}));
  EXPECT_EQ(series[1].mean, (std::vector<double>{25, 90}));
  EXPECT_EQ(series[1].low, (std::vector<double>{0, 85}));
  EXPECT_TRUE(sweep::learning_series({axes[0], {"--train-size", {"500"}}, axes[2]}, runs).empty());
}

}  // namespace
}  // namespace bp
