// Learning on the real data: one epoch of 784-30-10 on the first 10,000 MNIST training images
// must reach 85% on the test set. Skipped (with the reason) only where the data are absent, and
// failed instead when BACKPROP_REQUIRE_DATA=1 (CI sets it, so CI always runs it).
#include <gtest/gtest.h>

#include <cstdlib>

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
