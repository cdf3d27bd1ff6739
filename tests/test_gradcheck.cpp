// The gradient check itself (train/gradcheck): a correct gradient passes it whatever the sample of
// parameters, the batch or lambda, so that a FAIL always means a wrong gradient. (The CLI's
// end-to-end run is in test_cli.cpp; the backends' gradients are in test_backend_contract.cpp.)
#include <gtest/gtest.h>

#include <string>

#include "base/error.hpp"
#include "data/dataset.hpp"
#include "helpers.hpp"
#include "train/gradcheck.hpp"

namespace bp {
namespace {

// Every comparison passes; on failure, says which and by how much.
void expect_all_pass(const std::vector<GradcheckResult>& results, const std::string& what) {
  for (const GradcheckResult& r : results)
    EXPECT_TRUE(r.passed()) << what << ": " << r.label << ": max rel " << r.comparison.max_rel << " at ["
                            << r.comparison.worst << "], error model ratio " << (r.model ? r.model->worst_ratio : -1.0);
}

GradcheckOptions options(std::vector<size_t> sizes, uint64_t seed, size_t batch, size_t sampled) {
  GradcheckOptions o;
  o.sizes = std::move(sizes);
  o.seed = seed;
  o.batch_size = batch;
  o.sampled = sampled;
  o.threads = 1;
  o.devices = {"cpu"};
  return o;
}

// Issue 25: `gradcheck --layers 784,5,10 --params 10` failed the float64 check for seeds 1 and 2
// on MNIST: the few sampled entries set the scale that entries near zero were judged against.
TEST(Gradcheck, AFewSampledParametersOfMnistPass) {
  const std::string dir = test::required_mnist_dir();
  if (dir.empty()) GTEST_SKIP() << "no MNIST (scripts/fetch-mnist data/mnist)";
  const LabelledImages images = load_labelled_images(find_data_file(dir, "train-images-idx3-ubyte"),
                                                     find_data_file(dir, "train-labels-idx1-ubyte"));
  for (uint64_t seed : {1, 2, 3})
    expect_all_pass(gradcheck(images.view(), options({784, 5, 10}, seed, 10, 10)), "seed " + std::to_string(seed));
}

// Issue 25: a batch of 60,000 failed the float64 check: the cost's rounding, over that many
// terms, divided by the step, outgrew a tolerance made for a batch of 10 on the entries near zero
// that sparse ink (as MNIST's) gives. Here 12 of 16 pixels are inked in 5% of the images; the
// check before failed it with max rel 1.8e-6 against its 1e-6.
TEST(Gradcheck, ALargeBatchOfSparseImagesPasses) {
  LabelledImages images = synthetic_images(60000, 4, 4, 10, 5);
  for (size_t i = 0; i < images.pixels.size(); ++i)
    if (i % 16 >= 4 && (i * 2654435761u >> 7) % 100 >= 5) images.pixels[i] = 0;
  GradcheckOptions o = options({16, 6, 10}, 1, 60000, 12);
  o.hyper.cost = Cost::cross_entropy;
  expect_all_pass(gradcheck(images.view(), o), "batch 60000");
}

// Issue 25: --lambda 1e300 was reported as the CPU backend's FAIL (float32 overflows); the float64
// check is sound there, but no float32 backend can hold that gradient, which is said instead.
TEST(Gradcheck, AGradientBeyondFloat32IsRefusedNotFailed) {
  const LabelledImages images = synthetic_images(100, 4, 4, 3, 5);
  GradcheckOptions o = options({16, 6, 3}, 1, 10, 0);
  o.hyper.lambda = 1e300;
  try {
    gradcheck(images.view(), o);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("beyond float32's range"), std::string::npos) << e.what();
  }
  o.devices.clear();  // the float64 check alone is still made
  expect_all_pass(gradcheck(images.view(), o), "float64 only");
}

}  // namespace
}  // namespace bp
