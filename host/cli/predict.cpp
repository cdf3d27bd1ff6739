// `backprop predict`: the digit a saved model sees in your own pictures (PNG or PGM, any size,
// dark-on-light or light-on-dark), prepared the way MNIST was made; or in a test-set image.
#include <cstdio>

#include "base/error.hpp"
#include "cli/common.hpp"
#include "insight/preprocess.hpp"
#include "kernels/model_math.cuh"
#include "reference/reference.hpp"
#include "train/checkpoint.hpp"

namespace bp::cli {
namespace {

class PredictCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand("predict", "Classify pictures of digits with a saved model");
    sub->add_option("--model", model_, "Model file written by train --save")->required();
    sub->add_option("images", images_, "PNG or PGM pictures of one digit each");
    // Split here, not by CLI11's delimiter, which drops the empty pieces of "1,,2".
    sub->add_option("--index", index_words_, "Test-set images to classify instead (or as well): N or N,M,...");
    sub->add_flag("--show", show_, "Draw the prepared 28x28 input in the terminal");
    sub->add_option("--data", data_dir_, "MNIST folder, for --index")->capture_default_str();
    return sub;
  }

  int run() override {
    for (const std::string& words : index_words_) {
      for (size_t at = 0;;) {
        const size_t comma = std::min(words.find(',', at), words.size());
        std::string piece = words.substr(at, comma - at);
        if (const std::string bad = count(0, UINT32_MAX)(piece); !bad.empty()) throw UsageError("--index: " + bad);
        indices_.push_back(std::stoull(piece));
        if (comma == words.size()) break;
        at = comma + 1;
      }
    }
    if (images_.empty() && indices_.empty()) throw UsageError("give pictures to classify, or --index N");
    const ModelFile model = load_model(model_);
    const reference::Params p = reference::from_network(model.net);
    if (!images_.empty()) check_model_fits(model_, model.net, kPreparedPixels, model.net.sizes.back());
    // Every readable picture is classified; each bad one is reported and makes the exit code 1.
    size_t failed = 0;
    for (const std::string& path : images_) {
      Prepared prepared;
      try {
        prepared = prepare_digit(read_grey_image(path));
      } catch (const Error& e) {
        const std::string what = e.what();
        std::fflush(stdout);
        std::fprintf(stderr, "backprop: error: %s\n", (what.rfind(path, 0) == 0 ? what : path + ": " + what).c_str());
        ++failed;
        continue;
      }
      report(path, p, prepared.pixels, -1);
    }
    if (!indices_.empty()) {
      const LabelledImages test = load_test_images(data_dir_);  // the training file is not needed
      const DataView view = test.view();
      check_model_fits(model_, model.net, view.dim, model.net.sizes.back());
      for (size_t i : indices_) {
        if (i >= view.count)
          throw UsageError("--index " + std::to_string(i) + " is past the " + std::to_string(view.count) +
                           " test images");
        const std::vector<uint8_t> pixels(view.pixels + i * view.dim, view.pixels + (i + 1) * view.dim);
        report("test image " + std::to_string(i), p, pixels, view.labels[i]);
      }
    }
    if (failed) {
      std::fflush(stdout);
      std::fprintf(stderr, "backprop: %zu of %zu pictures could not be read\n", failed, images_.size());
      return 1;
    }
    return 0;
  }

 private:
  void report(const std::string& name, const reference::Params& p, const std::vector<uint8_t>& pixels,
              int label) const {
    if (pixels.size() != p.sizes.front())
      throw UsageError(name + " has " + std::to_string(pixels.size()) + " pixels but the model takes " +
                       std::to_string(p.sizes.front()));
    reference::Vector x(pixels.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = normalise_pixel(pixels[i]);
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
  std::vector<std::string> index_words_;
  std::vector<size_t> indices_;
  bool show_ = false;
};

}  // namespace

std::unique_ptr<Command> make_predict_command() { return std::make_unique<PredictCommand>(); }

}  // namespace bp::cli
