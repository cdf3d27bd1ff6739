// The binary against a demanding user and an adversary (issue 15): bad counts, odd output files,
// resumes that disagree with their checkpoint, unreadable images. Each test failed before its fix
// (run them against an older build with BACKPROP_TEST_BINARY=path/to/backprop).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "helpers.hpp"
#include "train/checkpoint.hpp"

namespace bp {
namespace {

using test::run_backprop;

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override { test::write_fake_mnist(dir_.path().string(), 300, 50, 4, 4, 3, true); }
  std::string data() const { return "--data " + dir_.path().string(); }
  std::string small() const { return data() + " --train-size 200 --validation-size 100 --layers 16,5,3 --quiet"; }
  test::TempDir dir_;
};

// Seeds above 2^53 went through a double on the way back from the checkpoint: the resumed run
// shuffled with another seed.
TEST_F(Hardening, ResumeKeepsA64BitSeedExactly) {
  const std::string seed = "1152921504606846977";  // 2^60 + 1
  const std::string ck = dir_.file("ck"), whole = dir_.file("whole"), resumed = dir_.file("resumed");
  ASSERT_EQ(run_backprop("train " + small() + " --device cpu --seed " + seed + " --epochs 2 --save " + whole).exit_code, 0);
  const auto first = run_backprop("train " + small() + " --device cpu --seed " + seed +
                                  " --epochs 1 --checkpoint " + ck + " --checkpoint-every 1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto second = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --epochs 2 --save " + resumed);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const ModelFile a = load_model(whole), b = load_model(resumed);
  EXPECT_EQ(b.metadata.at("seed"), seed);
  EXPECT_EQ(a.net.weights, b.net.weights);
  EXPECT_EQ(a.net.biases, b.net.biases);
  // Giving the same seed again is no conflict.
  const auto again = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --seed " + seed +
                                  " --epochs 2");
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

}  // namespace
}  // namespace bp
