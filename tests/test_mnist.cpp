// Learning on the real data: one epoch of 784-30-10 on the first 10,000 MNIST training images
// must reach 85% on the test set. Skipped (with the reason) only where the data are absent, and
// failed instead when BACKPROP_REQUIRE_DATA=1 (CI sets it, so CI always runs it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "cpu/cpu_backend.hpp"
#include "helpers.hpp"
#include "train/trainer.hpp"

namespace bp {
namespace {

std::string data_or_skip() { return test::required_mnist_dir(); }

TEST(Mnist, LoadsTheRealFiles) {
  const std::string dir = data_or_skip();
  if (dir.empty()) GTEST_SKIP() << "MNIST not found (run scripts/fetch-mnist data/mnist or set BACKPROP_DATA)";
  const Dataset d = load_dataset(dir, {});
  EXPECT_EQ(d.training_file.count, 60000u);
  EXPECT_EQ(d.test.count, 10000u);
  EXPECT_EQ(d.input_size(), 784u);
  EXPECT_EQ(d.classes, 10u);
}

// backprop reads a raw file before its .gz, so a wrong raw labels file beside verified .gz ones is
// what training would use: fetch-mnist stops on it (it used to call the folder complete) and
// leaves it as it was; once it is gone the folder is complete. No network: the other files are
// there (links to the real ones).
TEST(Mnist, FetchStopsOnAWrongRawFileThatWouldBeRead) {
  const std::string dir = data_or_skip();
  if (dir.empty()) GTEST_SKIP() << "MNIST not found (run scripts/fetch-mnist data/mnist or set BACKPROP_DATA)";
  test::TempDir tmp;
  const std::string to = tmp.path().string(), labels = tmp.file("train-labels-idx1-ubyte");
  const auto setup = test::run_shell(
      "cd " + to + " && for f in train-images-idx3-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do " +
      "for g in " + dir + "/$f " + dir + "/$f.gz; do [ -e $g ] && ln -s $g .; done; done; L=" + dir +
      "/train-labels-idx1-ubyte; if [ -e $L ]; then gzip -c $L > train-labels-idx1-ubyte.gz; else cp $L.gz .; fi" +
      " && printf 'not labels' > train-labels-idx1-ubyte");
  ASSERT_EQ(setup.exit_code, 0) << setup.output;
  const std::string fetch =
      "env -u BACKPROP_MNIST_SOURCE " + std::string(BACKPROP_SOURCE_DIR) + "/scripts/fetch-mnist " + to;
  const auto wrong = test::run_shell(fetch);
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("is not the verified train-labels-idx1-ubyte"), std::string::npos) << wrong.output;
  EXPECT_EQ(wrong.output.find("is complete"), std::string::npos) << wrong.output;
  std::ifstream in(labels);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "not labels");
  std::filesystem::remove(labels);
  const auto fixed = test::run_shell(fetch);
  EXPECT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_NE(fixed.output.find("is complete"), std::string::npos) << fixed.output;
}

TEST(Mnist, OneEpochOnTenThousandImagesReaches85Percent) {
  const std::string dir = data_or_skip();
  if (dir.empty()) GTEST_SKIP() << "MNIST not found (run scripts/fetch-mnist data/mnist or set BACKPROP_DATA)";
  const Dataset d = load_dataset(dir, {10000, 0});
  // network2.py's N(0, 1/n_in) initialisation: with the book's N(0,1) weights one epoch over only
  // 10,000 images lands anywhere between 63% and 84% depending on the seed (numpy's network.py
  // does the same), so 85% would test the seed rather than the code.
  Network net = initialise({784, 30, 10}, Init::scaled, 1);
  auto backend = make_cpu_backend(0);
  TrainOptions o;
  o.epochs = 1;
  o.evaluate_validation = false;
  size_t correct = 0;
  ASSERT_EQ(train(*backend, net, d, o, [&](const EpochReport& r) { correct = r.test_correct; }).status,
            TrainOutcome::finished);
  std::cout << "one epoch on 10,000 images: " << correct << " / 10000\n";
  EXPECT_GE(correct, 8500u);
}

}  // namespace
}  // namespace bp
