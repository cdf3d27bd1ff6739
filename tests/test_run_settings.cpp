// RunSettings through checkpoint metadata: every field comes back exactly (64-bit seeds and
// sizes, doubles to the last bit), bad values name the file, and a resume refuses a flag that
// disagrees with the checkpoint while --epochs may extend the run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>

#include "base/error.hpp"
#include "train/run_settings.hpp"

namespace bp {
namespace {

TEST(RunSettings, RoundTripsExactlyThroughMetadata) {
  std::mt19937_64 gen(20261128);
  for (int trial = 0; trial < 200; ++trial) {
    RunSettings s;
    s.layers = "784," + std::to_string(gen() % 1000 + 1) + ",10";
    s.cost = trial % 2 ? "cross-entropy" : "quadratic";
    s.init = trial % 3 ? "scaled" : "normal";
    s.eta = std::ldexp(double(gen() >> 11), -int(gen() % 60));  // every bit of the mantissa used
    s.lambda = std::nextafter(double(trial) / 7.0, 1e9);
    s.batch_size = gen();
    s.seed = gen() | (uint64_t(1) << 63);  // above 2^53: a double would change it
    s.epochs = gen();
    if (trial % 2) s.train_size = gen();
    if (trial % 3) s.validation_size = std::numeric_limits<uint64_t>::max() - uint64_t(trial);
    s.shuffle_labels = trial % 5 == 0;
    const RunSettings back = from_metadata(to_metadata(s), "ck");
    EXPECT_EQ(back.layers, s.layers);
    EXPECT_EQ(back.cost, s.cost);
    EXPECT_EQ(back.init, s.init);
    EXPECT_EQ(back.eta, s.eta);
    EXPECT_EQ(back.lambda, s.lambda);
    EXPECT_EQ(back.batch_size, s.batch_size);
    EXPECT_EQ(back.seed, s.seed);
    EXPECT_EQ(back.epochs, s.epochs);
    EXPECT_EQ(back.train_size, s.train_size);
    EXPECT_EQ(back.validation_size, s.validation_size);
    EXPECT_EQ(back.shuffle_labels, s.shuffle_labels);
  }
}

TEST(RunSettings, EveryFieldHasItsOwnKeyAndFlag) {
  std::set<std::string> keys, flags;
  size_t n = 0;
  const RunSettings s;
  visit_fields(
      [&](const Field& f, const auto&) {
        ++n;
        keys.insert(f.key);
        flags.insert(f.flag);
      },
      s);
  EXPECT_EQ(keys.size(), n);
  EXPECT_EQ(flags.size(), n);
}

TEST(RunSettings, BadValuesAreRefusedNamingTheFile) {
  const Metadata good = to_metadata(RunSettings{});
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"seed", "-1"},
                                                                                   {"seed", "18446744073709551616"},
                                                                                   {"seed", "1e3"},
                                                                                   {"seed", " 1"},
                                                                                   {"mini_batch", ""},
                                                                                   {"eta", "3x"},
                                                                                   {"eta", "1e999"},
                                                                                   {"shuffle_labels", "yes"},
                                                                                   {"train_size", "+5"}}) {
    Metadata md = good;
    md[key] = value;
    try {
      from_metadata(md, "my.ck");
      ADD_FAILURE() << key << "=" << value << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("my.ck: metadata '" + key + "'"), std::string::npos) << e.what();
    }
  }
  Metadata missing = good;
  missing.erase("seed");
  EXPECT_THROW(from_metadata(missing, "my.ck"), Error);
  Metadata old = good;  // a checkpoint from before a setting existed: its default
  old.erase("shuffle_labels");
  EXPECT_FALSE(from_metadata(old, "my.ck").shuffle_labels);
}

TEST(RunSettings, ResumeAdoptsTheCheckpointAndRefusesConflicts) {
  RunSettings ck;
  ck.seed = (uint64_t(1) << 60) + 1;
  ck.eta = 0.1;
  ck.epochs = 5;
  ck.train_size = 2000;
  RunSettings mine;  // flags: --seed as in the checkpoint, --epochs 9
  mine.seed = ck.seed;
  mine.epochs = 9;
  const std::set<std::string> given = {"--seed", "--epochs"};
  const auto is_given = [&](const char* flag) { return given.count(flag) > 0; };
  adopt_settings(mine, ck, "ck", is_given);
  EXPECT_EQ(mine.seed, ck.seed);
  EXPECT_EQ(mine.eta, 0.1);
  EXPECT_EQ(mine.epochs, 9u);  // --epochs extends the run
  EXPECT_EQ(mine.train_size, std::optional<uint64_t>(2000));

  for (const char* flag : {"--seed", "--train-size", "--validation-size", "--shuffle-labels", "--eta"}) {
    RunSettings other;
    other.seed = ck.seed + 1;  // differs from the checkpoint's in the last bit only
    other.train_size = 1999;
    other.validation_size = 10;
    other.shuffle_labels = true;
    other.eta = std::nextafter(0.1, 1.0);
    try {
      adopt_settings(other, ck, "ck", [&](const char* f) { return std::string(f) == flag; });
      ADD_FAILURE() << flag << " conflict accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(flag) + " "), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("conflicts with"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace bp
