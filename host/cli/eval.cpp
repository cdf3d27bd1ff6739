// `backprop eval`: accuracy of a saved model on the test (or validation, or training) images.
#include <cstdio>

#include "train/checkpoint.hpp"
#include "cli/common.hpp"
#include "base/error.hpp"

namespace bp::cli {
namespace {

class EvalCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand("eval", "Evaluate a saved model");
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
    const Dataset data = data_.load();
    if (model.net.sizes.front() != data.input_size() || model.net.sizes.back() != data.classes) {
      throw UsageError(model_ + " is a " + format_layers(model.net.sizes) + " network but the data have " +
                       std::to_string(data.input_size()) + " pixels and " + std::to_string(data.classes) + " classes");
    }
    const DataView& view = set_ == "test" ? data.test : set_ == "validation" ? data.validation : data.train;
    std::unique_ptr<Backend> backend = device_.make();
    backend->load(model.net);
    const size_t correct = backend->evaluate(view);
    std::printf("%s: %zu / %zu correct (%.2f%%), %s network, %s backend\n", set_.c_str(), correct, view.count,
                view.count ? 100.0 * double(correct) / double(view.count) : 0.0, format_layers(model.net.sizes).c_str(),
                backend->name().c_str());
    return 0;
  }

 private:
  std::string model_, set_ = "test";
  RunSettings settings_;
  DataOptions data_{settings_};
  DeviceOptions device_;
};

}  // namespace

std::unique_ptr<Command> make_eval_command() { return std::make_unique<EvalCommand>(); }

}  // namespace bp::cli
