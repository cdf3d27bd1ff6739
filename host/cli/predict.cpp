// `backprop predict`: the digit a saved model sees in your own pictures (PNG or PGM, any size,
// dark-on-light or light-on-dark), prepared the way MNIST was made; or in a test-set image.
#include <cstdio>

#include "train/checkpoint.hpp"
#include "cli/common.hpp"
#include "base/error.hpp"
#include "insight/preprocess.hpp"
#include "reference/reference.hpp"

namespace bp::cli {
namespace {

class PredictCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand("predict", "Classify pictures of digits with a saved model");
    sub->add_option("--model", model_, "Model file written by train --save")->required();
    sub->add_option("images", images_, "PNG or PGM pictures of one digit each");
    sub->add_option("--index", indices_, "Test-set images to classify instead (or as well)")
        ->delimiter(',')
        ->check(count(0, UINT32_MAX));
    sub->add_flag("--show", show_, "Draw the prepared 28x28 input in the terminal");
    sub->add_option("--data", data_dir_, "MNIST folder, for --index")->capture_default_str();
    return sub;
  }

  int run() override {
    if (images_.empty() && indices_.empty()) throw UsageError("give pictures to classify, or --index N");
    const ModelFile model = load_model(model_);
    const reference::Params p = reference::from_network(model.net);
    if (!images_.empty() && model.net.sizes.front() != 784)
      throw UsageError(model_ + " takes " + std::to_string(model.net.sizes.front()) + " inputs; pictures are prepared as 28x28");
    for (const std::string& path : images_) {
      Prepared prepared;
      try {
        prepared = prepare_digit(read_grey_image(path));
      } catch (const UsageError&) {
        throw;
      } catch (const Error& e) {
        throw Error(path + ": " + e.what());
      }
      report(path, p, prepared.pixels, -1);
    }
    if (!indices_.empty()) {
      const Dataset data = load_dataset(data_dir_, {});
      for (size_t i : indices_) {
        if (i >= data.test.count) throw UsageError("--index " + std::to_string(i) + " is past the " + std::to_string(data.test.count) + " test images");
        const std::vector<uint8_t> pixels(data.test.pixels + i * data.test.dim, data.test.pixels + (i + 1) * data.test.dim);
        report("test image " + std::to_string(i), p, pixels, data.test.labels[i]);
      }
    }
    return 0;
  }

 private:
  void report(const std::string& name, const reference::Params& p, const std::vector<uint8_t>& pixels, int label) const {
    if (pixels.size() != p.sizes.front())
      throw UsageError(name + " has " + std::to_string(pixels.size()) + " pixels but the model takes " + std::to_string(p.sizes.front()));
    reference::Vector x(pixels.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = pixels[i] / 255.0;
    const reference::Vector a = reference::feedforward(p, x);
    const int digit = argmax(a.data(), int(a.size()));
    std::printf("%s: %d", name.c_str(), digit);
    if (label >= 0) std::printf(" (label %d)", label);
    std::printf("   outputs:");
    for (double v : a) std::printf(" %.3f", v);
    std::printf("\n");
    if (show_) std::printf("%s", ascii_art(pixels).c_str());
  }

  std::string model_, data_dir_ = default_data_dir();
  std::vector<std::string> images_;
  std::vector<size_t> indices_;
  bool show_ = false;
};

}  // namespace

std::unique_ptr<Command> make_predict_command() { return std::make_unique<PredictCommand>(); }

}  // namespace bp::cli
