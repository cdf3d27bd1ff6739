// `backprop sweep`: the grid (lists, ranges, order, shards), each network equal to the same
// settings given to `backprop train --device cpu`, shards merged equal to one whole run, and one
// clear message for each kind of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/error.hpp"
#include "insight/image.hpp"
#include "sweep/grid.hpp"
#include "sweep/summary.hpp"
#include "train/checkpoint.hpp"

#include "helpers.hpp"

namespace bp {
namespace {

using test::run_backprop;

const sweep::SweptFlag& flag(const std::string& name) {
  for (const auto& f : sweep::swept_flags())
    if (name == f.flag) return f;
  throw std::logic_error("no swept flag " + name);
}

TEST(SweepGrid, ListsAndRangesParse) {
  EXPECT_EQ(sweep::parse_values(flag("--eta"), {"0.1,0.3", "1"}), (std::vector<std::string>{"0.1", "0.3", "1"}));
  EXPECT_EQ(sweep::parse_values(flag("--seeds"), {"1-3,7"}), (std::vector<std::string>{"1", "2", "3", "7"}));
  EXPECT_EQ(sweep::parse_values(flag("--layers"), {"784,15,10", "784,30,10"}),
            (std::vector<std::string>{"784,15,10", "784,30,10"}));
  EXPECT_EQ(sweep::parse_values(flag("--cost"), {"quadratic,cross-entropy"}),
            (std::vector<std::string>{"quadratic", "cross-entropy"}));
  for (const auto& [name, word, message] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--seeds", "5-1", "runs backwards"},
           {"--seeds", "a-b", "not a whole number"},
           {"--seeds", "1-99999999999", "more than"},
           {"--eta", "0.1,,3", "empty value"},
           {"--eta", "x", "not a finite number"},
           {"--eta", "inf", "not a finite number"},
           {"--lambda", "1,1", "twice"},
       }) {
    try {
      sweep::parse_values(flag(name), {word});
      ADD_FAILURE() << name << " " << word << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(sweep::parse_values(flag("--eta"), {}), UsageError);
}

TEST(SweepGrid, EveryCombinationOnceSeedsInnermost) {
  const sweep::Grid grid(RunSettings{},
                         {{"--eta", {"0.5", "3"}}, {"--lambda", {"0", "1", "5"}}, {"--seeds", {"1", "2"}}});
  ASSERT_EQ(grid.size(), 12u);
  std::set<std::tuple<double, double, uint64_t>> seen;
  for (uint64_t i = 0; i < grid.size(); ++i) {
    const RunSettings s = grid.at(i);
    seen.insert({s.eta, s.lambda, s.seed});
    EXPECT_EQ(s.seed, i % 2 + 1);  // the seeds of one setting are neighbours
    EXPECT_EQ(s.batch_size, RunSettings{}.batch_size);
  }
  EXPECT_EQ(seen.size(), 12u);
}

TEST(SweepGrid, ShardsCoverTheGridExactlyOnce) {
  for (uint64_t n : {1, 2, 3, 7, 12}) {
    std::vector<int> hits(12, 0);
    for (uint64_t i = 1; i <= n; ++i)
      for (uint64_t index : sweep::shard_indices(12, {i, n})) ++hits.at(index);
    EXPECT_EQ(hits, std::vector<int>(12, 1)) << n << " shards";
  }
  EXPECT_EQ(sweep::parse_shard("2/5").index, 2u);
  for (const char* bad : {"0/3", "4/3", "1/0", "a/b", "3", "-1/2", ""})
    EXPECT_THROW(sweep::parse_shard(bad), UsageError) << bad;
}

TEST(SweepSummary, MeanAndSpreadOverSeedsBestFirst) {
  const std::vector<sweep::Axis> axes = {{"--eta", {"1", "3"}}, {"--seeds", {"1", "2", "3"}}};
  std::vector<sweep::NetworkRun> runs;
  std::vector<std::vector<double>> validation(2);  // % per eta, one per seed
  for (uint64_t i = 0; i < 6; ++i) {
    sweep::NetworkRun run;
    run.index = i;
    run.point = {i < 3 ? "1" : "3", std::to_string(i % 3 + 1)};
    for (size_t e = 0; e < 2; ++e) {
      EpochReport r;
      r.epoch = e;
      r.validation_count = 400;
      r.validation_correct = 100 + 37 * i * i % 251 + e;  // no pattern the summary could rely on
      r.test_count = 200;
      r.test_correct = 50 + 13 * i + 5 * e;
      run.epochs.push_back(r);
    }
    validation[i / 3].push_back(100.0 * double(run.epochs.back().validation_correct) / 400.0);
    runs.push_back(run);
  }
  const auto settings = sweep::summarise(axes, runs);
  ASSERT_EQ(settings.size(), 2u);
  for (const auto& s : settings) {
    const auto& v = validation[s.point[0] == "1" ? 0 : 1];
    const double mean = (v[0] + v[1] + v[2]) / 3;
    const double sd = std::sqrt((std::pow(v[0] - mean, 2) + std::pow(v[1] - mean, 2) + std::pow(v[2] - mean, 2)) / 2);
    EXPECT_NEAR(s.validation_mean, mean, 1e-12);
    EXPECT_NEAR(s.validation_sd, sd, 1e-12);
    EXPECT_EQ(s.runs.size(), 3u);
    ASSERT_EQ(s.curve.size(), 2u);
  }
  EXPECT_GE(settings[0].validation_mean, settings[1].validation_mean);
  EXPECT_DOUBLE_EQ(settings[settings[0].point[0] == "3" ? 0 : 1].test_best, 100.0 * (50 + 13 * 5 + 5) / 200);
}

class Sweep : public ::testing::Test {
 protected:
  void SetUp() override { test::write_fake_mnist(dir_.path().string(), 300, 50, 4, 4, 3, true); }
  std::string data() const { return "--data " + dir_.path().string() + " --train-size 200 --validation-size 100"; }
  // The records of a JSONL file, without the timing fields (which differ between any two runs).
  static std::vector<nlohmann::json> records(const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line);
      // (and the shard, the one field in which a shard's records differ from a whole run's)
      for (const char* key : {"train_seconds", "eval_seconds", "samples_per_second", "shard"}) j.erase(key);
      out.push_back(j);
    }
    return out;
  }
  static std::string table(const std::string& output) {  // from the header line to the pictures
    const size_t at = output.find("seeds  validation %");
    if (at == std::string::npos) return "(no table)";
    const size_t start = output.rfind('\n', at) + 1;
    return output.substr(start, output.find("wrote ", start) - start);
  }
  test::TempDir dir_;
};

TEST_F(Sweep, EachNetworkEqualsTrainOnTheCpu) {
  const std::string log = dir_.file("sweep.jsonl");
  const auto r = run_backprop("sweep " + data() +
                              " --layers 16,5,3 16,4,3 --eta 0.5,3 --lambda 0,2 --seeds 1-2 --epochs 2 "
                              "--cost quadratic,cross-entropy --threads 2 --log " +
                              log);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto sweep_records = records(log);
  ASSERT_EQ(sweep_records.size(), 2u * 2 * 2 * 2 * 2 * 2);  // 32 networks, 2 epochs each
  std::map<uint64_t, std::vector<nlohmann::json>> by_network;
  for (const auto& j : sweep_records) by_network[j["network"].get<uint64_t>()].push_back(j);
  ASSERT_EQ(by_network.size(), 32u);
  for (uint64_t index : {0, 5, 19, 31}) {  // a few, to keep the test short
    const auto& s = by_network[index].front()["settings"];
    const std::string train_log = dir_.file("train" + std::to_string(index) + ".jsonl");
    const auto t = run_backprop("train " + data() + " --device cpu --quiet --layers " + s["layers"].get<std::string>() +
                                " --eta " + s["eta"].get<std::string>() + " --lambda " +
                                s["lambda"].get<std::string>() + " --seed " + s["seed"].get<std::string>() +
                                " --cost " + s["cost"].get<std::string>() + " --epochs 2 --log " + train_log);
    ASSERT_EQ(t.exit_code, 0) << t.output;
    const auto train_records = records(train_log);
    ASSERT_EQ(train_records.size(), by_network[index].size());
    for (size_t e = 0; e < train_records.size(); ++e)
      for (const auto& [key, value] : train_records[e].items())  // every field train logs, bit for bit
        EXPECT_EQ(by_network[index][e][key], value) << "network " << index << " epoch " << e << " " << key;
  }
}

TEST_F(Sweep, ShardsMergedEqualOneRun) {
  const std::string grid = " --layers 16,5,3 --eta 0.5,3 --lambda 0,1,5 --seeds 1-2 --epochs 2 ";
  const auto whole = run_backprop("sweep " + data() + grid + "--threads 1 --log " + dir_.file("whole.jsonl") +
                                  " --out " + dir_.file("whole"));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  std::string logs;
  for (int i = 1; i <= 3; ++i) {
    const std::string log = dir_.file("shard" + std::to_string(i) + ".jsonl");
    const auto s = run_backprop("sweep " + data() + grid + "--shard " + std::to_string(i) + "/3 --log " + log);
    ASSERT_EQ(s.exit_code, 0) << s.output;
    logs += " " + log;
  }
  const auto merged = run_backprop("sweep --merge" + logs + " --out " + dir_.file("merged"));
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_EQ(table(merged.output), table(whole.output));
  EXPECT_NE(table(whole.output), "(no table)") << whole.output;
  // The same records, network by network.
  std::map<std::pair<uint64_t, uint64_t>, nlohmann::json> a, b;
  for (const auto& j : records(dir_.file("whole.jsonl"))) a[{j["network"], j["epoch"]}] = j;
  for (int i = 1; i <= 3; ++i)
    for (const auto& j : records(dir_.file("shard" + std::to_string(i) + ".jsonl"))) b[{j["network"], j["epoch"]}] = j;
  EXPECT_EQ(a, b);
  for (const char* png : {"heatmap.png", "curves.png"}) {  // the same pictures too
    const GreyImage w = read_grey_image(dir_.file("whole") + "/" + png),
                    m = read_grey_image(dir_.file("merged") + "/" + png);
    EXPECT_GT(w.width * w.height, 100u) << png;
    EXPECT_EQ(w.pixels, m.pixels) << png;
  }
  // Shards that do not cover the grid, overlap, or come from another grid are refused.
  const auto missing = run_backprop("sweep --merge " + dir_.file("shard1.jsonl") + " " + dir_.file("shard3.jsonl"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("do not hold the whole sweep of 12 networks: shard 2/3 (no log given): 4 network(s) "
                                "missing (1, 4, 7, 10)"),
            std::string::npos)
      << missing.output;
  const auto overlap = run_backprop("sweep --merge" + logs + " " + dir_.file("shard2.jsonl"));
  EXPECT_EQ(overlap.exit_code, 2);
  EXPECT_NE(overlap.output.find("overlapping shards"), std::string::npos) << overlap.output;
  const std::string other = dir_.file("other.jsonl");
  ASSERT_EQ(run_backprop("sweep " + data() +
                         " --layers 16,5,3 --eta 0.5,3 --lambda 0,1,5 --seeds 1-2 --epochs 1 "
                         "--shard 2/3 --log " +
                         other)
                .exit_code,
            0);
  const auto mixed =
      run_backprop("sweep --merge " + dir_.file("shard1.jsonl") + " " + other + " " + dir_.file("shard3.jsonl"));
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.output.find("another sweep"), std::string::npos) << mixed.output;
  for (const auto* r : {&missing, &overlap, &mixed})
    EXPECT_EQ(std::count(r->output.begin(), r->output.end(), '\n'), 1) << r->output;
}

TEST_F(Sweep, MergeRefusesWhatIsNotASweepLog) {
  const std::string garbage = dir_.file("garbage.jsonl"), empty = dir_.file("empty.jsonl");
  std::ofstream(garbage) << "{\"network\": 1}\n";
  std::ofstream(empty) << "";
  for (const auto& [file, code, message] :
       std::vector<std::tuple<std::string, int, std::string>>{{dir_.path().string(), 2, "is not a file"},
                                                              {garbage, 1, "garbage.jsonl:1: not a sweep record"},
                                                              {empty, 2, "hold no sweep records"},
                                                              {dir_.file("missing.jsonl"), 2, "is not a file"}}) {
    const auto r = run_backprop("sweep --merge " + file);
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST_F(Sweep, BadInputGetsOneMessageAndExitTwo) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--eta ''", "the grid would be empty"},
      {"--seeds 5-1", "runs backwards"},
      {"--seeds a-b", "not a whole number"},
      {"--seeds 1-10001", "pass --yes"},
      {"--no-such-flag", "no-such-flag"},
      {"--shard 4/3", "--shard must be I/N"},
      {"--eta 1,2 --shard 3/3", "has no networks"},
      {"--eta 0,1", "--eta must be > 0"},
      {"--cost cubic", "--cost must be"},
      {"--layers 16,5", "ends with 5 outputs"},
      {"--merge x.jsonl --eta 1", "--merge takes only"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run_backprop("sweep " + data() + " --epochs 1 " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
}

}  // namespace
}  // namespace bp
