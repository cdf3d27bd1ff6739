// `backprop eval`: accuracy of a saved model on the test (or validation, or training) images.
#include <cstdio>
#include <tuple>

#include "base/error.hpp"
#include "cli/common.hpp"
#include "train/checkpoint.hpp"
#include "train/run_settings.hpp"

namespace bp::cli {
namespace {

class EvalCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = sub_ = app.add_subcommand("eval", "Evaluate a saved model");
    sub->add_option("--model", model_, "Model file written by train --save")->required();
    sub->add_option("--set", set_, "test, validation or train")->capture_default_str();
    data_.add(*sub);
    device_.add(*sub);
    return sub;
  }

  int run() override {
    if (set_ != "test" && set_ != "validation" && set_ != "train")
      throw UsageError("--set must be test, validation or train, got '" + set_ + "'");
    const ModelFile model = load_model(model_);
    // The split the model was trained with, unless given: validation must not be training images.
    for (const auto& [flag, key, field] : {std::tuple{"--train-size", "train_size", &settings_.train_size},
                                           {"--validation-size", "validation_size", &settings_.validation_size}}) {
      if (sub_->count(flag) == 0 && model.metadata.count(key)) *field = metadata_count(model.metadata, key, model_);
    }
    // The test set needs only the test files; the other sets need the training file.
    Dataset data;
    if (set_ == "test") {
      data.test_file = load_test_images(data_.dir);
      data.test = data.test_file.view();
      data.train.dim = data.test.dim;
      data.classes = model.net.sizes.back();
      for (size_t i = 0; i < data.test.count; ++i) {
        if (data.test.labels[i] >= data.classes)
          throw UsageError(data_.dir + ": test label " + std::to_string(data.test.labels[i]) + " at index " +
                           std::to_string(i) + " is not below the model's " + std::to_string(data.classes) +
                           " outputs");
      }
    } else {
      data = data_.load(model.net.sizes.back());
    }
    check_model_fits(model_, model.net, data.test.dim, data.classes);
    const DataView& view = set_ == "test" ? data.test : set_ == "validation" ? data.validation : data.train;
    if (view.count == 0)
      throw UsageError("--set " + set_ + ": the set is empty" +
                       (set_ == "validation" ? " (a --validation-size of 0, given or the model's)" : "") +
                       "; nothing to evaluate");
    if (set_ != "test") {
      std::printf("split: training images 0..%zu, validation the last %zu of the %zu in the training file (%s)\n",
                  data.train.count - 1, data.validation.count, data.training_file.count,
                  model.metadata.count("train_size") || model.metadata.count("validation_size")
                      ? "as the model was trained"
                      : "the default split");
    }
    std::unique_ptr<Backend> backend = device_.make();
    backend->load(model.net);
    const size_t correct = backend->evaluate(view).correct;
    std::printf("%s: %zu / %zu correct (%.2f%%), %s network, %s backend\n", set_.c_str(), correct, view.count,
                view.count ? 100.0 * double(correct) / double(view.count) : 0.0, format_layers(model.net.sizes).c_str(),
                backend->name().c_str());
    return 0;
  }

 private:
  CLI::App* sub_ = nullptr;
  std::string model_, set_ = "test";
  RunSettings settings_;
  DataOptions data_{settings_};
  DeviceOptions device_;
};

}  // namespace

std::unique_ptr<Command> make_eval_command() { return std::make_unique<EvalCommand>(); }

}  // namespace bp::cli
