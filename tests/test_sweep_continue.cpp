// `backprop sweep` at cluster scale (issue 26, item 2): log lines that do not grow with the grid,
// --merge of networks that stopped early and its refusal of other data or cut-off shards,
// interruption keeping what finished, --continue training only the rest, and --save-best keeping
// the best-validation epoch's parameters (and never a diverged network's).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "sweep/grid.hpp"
#include "train/checkpoint.hpp"

#include "helpers.hpp"

namespace bp {
namespace {

using test::run_backprop;

class SweepRuns : public ::testing::Test {
 protected:
  void SetUp() override { test::write_fake_mnist(dir_.path().string(), 300, 50, 4, 4, 3, true); }
  std::string data() const { return "--data " + dir_.path().string() + " --train-size 200 --validation-size 100"; }
  static std::vector<std::string> lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  // The records by (network, epoch), without the timing fields.
  static std::map<std::pair<uint64_t, uint64_t>, nlohmann::json> records(const std::string& path) {
    std::map<std::pair<uint64_t, uint64_t>, nlohmann::json> out;
    for (const std::string& line : lines(path)) {
      nlohmann::json j = nlohmann::json::parse(line);
      for (const char* key : {"train_seconds", "eval_seconds", "samples_per_second"}) j.erase(key);
      out[{j["network"], j["epoch"]}] = j;
    }
    return out;
  }
  static std::string table(const std::string& output) {
    const size_t at = output.find("seeds  validation %");
    if (at == std::string::npos) return "(no table)";
    const size_t start = output.rfind('\n', at) + 1;
    return output.substr(start, output.find("\n\n", start) - start);
  }
  static std::string bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  test::TempDir dir_;
};

TEST(SweepGridScale, RepeatsAcrossRangesAreFoundAndAMillionSeedsParse) {
  const sweep::SweptFlag& seeds = sweep::swept_flags().back();
  ASSERT_STREQ(seeds.flag, "--seeds");
  for (const char* word : {"1-9,20-30,9", "5,1-9", "3-7,7-12", "4,4"}) {
    try {
      sweep::parse_values(seeds, {word});
      ADD_FAILURE() << word << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
    }
  }
  const std::vector<std::string> million = sweep::parse_values(seeds, {"0-999999"});
  ASSERT_EQ(million.size(), 1000000u);
  EXPECT_EQ(million[123456], "123456");
  EXPECT_EQ(sweep::parse_values(seeds, {"1-3,10-12"}).size(), 6u);
}

// A line's size must not grow with the grid: 20,000 seeds wrote 110 KB a line before.
TEST_F(SweepRuns, ALogLineDoesNotGrowWithTheGrid) {
  size_t longest[2] = {0, 0};
  const char* seeds[2] = {"1-2", "1-20000"};
  for (int k = 0; k < 2; ++k) {
    const std::string log = dir_.file("grid" + std::to_string(k) + ".jsonl");
    const auto r = run_backprop("sweep " + data() + " --layers 16,4,3 --epochs 1 --yes --seeds " + seeds[k] +
                                " --shard 1/" + (k ? "20000" : "2") + " --log " + log);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const std::string& line : lines(log)) longest[k] = std::max(longest[k], line.size());
  }
  ASSERT_GT(longest[0], 100u);
  EXPECT_LE(longest[1], longest[0] + 32) << "a line of the 20,000-seed grid's log is " << longest[1] << " bytes";
}

// Early stopping and plateau schedules end networks before their last epoch; merge must take them.
TEST_F(SweepRuns, MergeTakesNetworksThatStoppedEarly) {
  const std::string grid = " --layers 16,4,3 --eta 0.5,3 --seeds 1-3 --epochs 30 --early-stop 1,2 ";
  std::string logs;
  size_t stopped = 0;
  for (int i = 1; i <= 2; ++i) {
    const std::string log = dir_.file("s" + std::to_string(i) + ".jsonl");
    const auto r = run_backprop("sweep " + data() + grid + "--shard " + std::to_string(i) + "/2 --log " + log);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    logs += " " + log;
    std::map<uint64_t, size_t> epochs;
    for (const auto& [key, j] : records(log)) ++epochs[key.first];
    for (const auto& [network, count] : epochs) stopped += count < 30;
  }
  ASSERT_GT(stopped, 0u) << "no network stopped early: the test would prove nothing";
  const auto merged = run_backprop("sweep --merge" + logs);
  EXPECT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_NE(table(merged.output), "(no table)") << merged.output;
}

// The data are part of a sweep's identity: shards trained on other data are refused.
TEST_F(SweepRuns, MergeRefusesShardsTrainedOnOtherData) {
  test::TempDir other;
  test::write_fake_mnist(other.path().string(), 301, 50, 4, 4, 3, true);  // other images, same sizes used
  const std::string grid = " --layers 16,4,3 --eta 0.5,3 --epochs 1 --train-size 200 --validation-size 100 ";
  const std::string a = dir_.file("a.jsonl"), b = dir_.file("b.jsonl");
  ASSERT_EQ(run_backprop("sweep --data " + dir_.path().string() + grid + "--shard 1/2 --log " + a).exit_code, 0);
  ASSERT_EQ(run_backprop("sweep --data " + other.path().string() + grid + "--shard 2/2 --log " + b).exit_code, 0);
  const auto r = run_backprop("sweep --merge " + a + " " + b);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("trained on other data"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// A shard cut off (killed while it trained, its last line torn) is named, with what to run; and
// --continue then trains only the networks it had not finished, to the same records as one run.
TEST_F(SweepRuns, ACutOffShardIsNamedAndContinueTrainsOnlyTheRest) {
  const std::string grid = " --layers 16,4,3 --eta 0.5,3 --seeds 1-3 --epochs 3 ";
  const std::string whole = dir_.file("whole.jsonl"), s1 = dir_.file("s1.jsonl"), s2 = dir_.file("s2.jsonl");
  const auto one = run_backprop("sweep " + data() + grid + "--threads 1 --log " + whole);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  ASSERT_EQ(run_backprop("sweep " + data() + grid + "--shard 1/2 --log " + s1).exit_code, 0);
  ASSERT_EQ(run_backprop("sweep " + data() + grid + "--shard 2/2 --log " + s2).exit_code, 0);
  // Shard 2 (networks 1, 3, 5) as a kill leaves it: network 1 whole, network 3 after one epoch,
  // then half a line.
  std::vector<std::string> kept;
  for (const std::string& line : lines(s2)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j["network"] == 1 || (j["network"] == 3 && j["epoch"] == 0)) kept.push_back(line);
  }
  ASSERT_EQ(kept.size(), 4u);
  {
    std::ofstream out(s2, std::ios::trunc);
    for (const std::string& line : kept) out << line << "\n";
    out << kept[0].substr(0, kept[0].size() / 2);
  }
  const auto cut = run_backprop("sweep --merge " + s1 + " " + s2);
  EXPECT_EQ(cut.exit_code, 2) << cut.output;
  EXPECT_NE(cut.output.find("ends inside this line"), std::string::npos) << cut.output;
  {  // without the torn line: the shard, its file, the networks cut off and missing
    std::ofstream out(s2, std::ios::trunc);
    for (const std::string& line : kept) out << line << "\n";
  }
  const auto named = run_backprop("sweep --merge " + s1 + " " + s2);
  EXPECT_EQ(named.exit_code, 2) << named.output;
  for (const std::string& part : std::vector<std::string>{
           "shard 2/2 (" + s2 + ")", "cut off before their last epoch (3)", "missing (5)", "--continue"})
    EXPECT_NE(named.output.find(part), std::string::npos) << part << "\n" << named.output;
  // The log as a kill leaves it again, torn line and all; --continue trains networks 3 and 5 only.
  {
    std::ofstream out(s2, std::ios::app);
    out << kept[0].substr(0, kept[0].size() / 2);
  }
  const auto resumed = run_backprop("sweep " + data() + grid + "--shard 2/2 --continue --log " + s2);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("continuing: 1 networks of this run were finished"), std::string::npos)
      << resumed.output;
  EXPECT_EQ(resumed.output.find("network 1 "), std::string::npos) << resumed.output;  // not trained again
  EXPECT_NE(resumed.output.find("network 3 "), std::string::npos) << resumed.output;
  const auto merged = run_backprop("sweep --merge " + s1 + " " + s2);
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_EQ(table(merged.output), table(one.output));
  auto a = records(whole), b = records(s1);
  for (auto& [key, j] : records(s2)) b[key] = j;
  for (auto* m : {&a, &b})
    for (auto& [key, j] : *m) j.erase("shard");  // the one field a shard's records differ in
  EXPECT_EQ(a, b);
  // Another shard's log, or one of another grid, is refused and left as it was.
  const std::string before = bytes(s1);
  const auto wrong = run_backprop("sweep " + data() + grid + "--shard 2/2 --continue --log " + s1);
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  EXPECT_NE(wrong.output.find("not in shard 2/2"), std::string::npos) << wrong.output;
  const auto other = run_backprop("sweep " + data() + " --layers 16,4,3 --eta 1 --epochs 3 --continue --log " + s1);
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("another sweep"), std::string::npos) << other.output;
  EXPECT_EQ(bytes(s1), before);
}

// Ctrl-C keeps what finished: the table of the networks done, --save-best from them, and the way on.
TEST_F(SweepRuns, AnInterruptedSweepKeepsWhatFinished) {
  const std::string log = dir_.file("log.jsonl"), best = dir_.file("best.safetensors");
  test::Child child =
      test::spawn_backprop("sweep " + data() + " --layers 16,4,3 --epochs 1,1000000 --seeds 1-2 --threads 1 --log " +
                           log + " --save-best " + best);
  ASSERT_GT(child.pid, 0);
  std::string seen;
  ASSERT_TRUE(child.wait_for("[2/4]", seen)) << seen;
  kill(child.pid, SIGINT);
  EXPECT_EQ(child.finish(seen), 130) << seen;
  EXPECT_NE(seen.find("interrupted: 2 of the 4 networks of this run are finished"), std::string::npos) << seen;
  EXPECT_NE(table(seen), "(no table)") << seen;
  EXPECT_NE(seen.find("saved the best network"), std::string::npos) << seen;
  EXPECT_NE(seen.find("run the same command with --continue"), std::string::npos) << seen;
  const ModelFile m = load_model(best);
  EXPECT_EQ(m.metadata.at("epochs"), "1");  // one of the two finished networks
}

// --save-best keeps the best validation accuracy of any epoch, with that epoch's parameters (as
// train --save does); before, it kept the last epoch's.
TEST_F(SweepRuns, SaveBestKeepsTheBestEpochsParameters) {
  const std::string log = dir_.file("log.jsonl"), model = dir_.file("best.safetensors");
  const auto r = run_backprop("sweep " + data() + " --layers 16,4,3 --eta 8 --seeds 1-4 --epochs 8 --log " + log +
                              " --save-best " + model);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The best network: most validation images correct in any epoch (its first such epoch), lowest index.
  uint64_t network = 0, correct = 0, test_correct = 0, epoch = 0, last_epoch_test = 0;
  bool any = false;
  const auto all = records(log);
  for (const auto& [key, j] : all) {
    const uint64_t v = j["validation_correct"];
    if (!any || v > correct) {
      network = key.first, epoch = key.second, correct = v, test_correct = j["test_correct"], any = true;
    }
  }
  for (const auto& [key, j] : all)
    if (key.first == network) last_epoch_test = j["test_correct"];
  ASSERT_NE(epoch, 7u) << "the best epoch is the last: the test would not tell the two apart";
  const ModelFile m = load_model(model);
  EXPECT_EQ(m.metadata.at("seed"), std::to_string(network + 1));
  EXPECT_EQ(m.metadata.at("best_validation_epoch"), std::to_string(epoch));
  const auto eval = run_backprop("eval --model " + model + " --data " + dir_.path().string() + " --device cpu");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("test: " + std::to_string(test_correct) + " / 50 correct"), std::string::npos)
      << eval.output << " (the last epoch's would be " << last_epoch_test << ")";
}

// When every network diverged there is nothing to save: a clear error, the old file kept.
TEST_F(SweepRuns, SaveBestRefusesWhenEveryNetworkDiverged) {
  const std::string model = dir_.file("best.safetensors");
  std::ofstream(model) << "an older file";
  const auto r = run_backprop("sweep " + data() + " --layers 16,4,3 --eta 1e38 --lambda 5 --seeds 1-2 " +
                              "--epochs 2 --save-best " + model);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("finite parameters to save"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("saved the best"), std::string::npos) << r.output;
  EXPECT_EQ(bytes(model), "an older file");
}

}  // namespace
}  // namespace bp
