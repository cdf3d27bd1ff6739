// `backprop gradcheck`: the float64 reference gradient against central finite differences, then
// every other available backend's gradient against the reference, on one minibatch. Prints the
// largest relative errors and exits 1 when any exceeds its tolerance.
#include <cstdio>
#include <iostream>

#include "base/error.hpp"
#include "cli/common.hpp"
#include "train/gradcheck.hpp"

namespace bp::cli {
namespace {

class GradcheckCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub =
        app.add_subcommand("gradcheck", "Check gradients: reference vs finite differences, backends vs reference");
    net_.add(*sub);
    data_option_ = sub->add_option("--data", data_dir_,
                                   "MNIST folder for the batch (where the default folder has none, random images)")
                       ->capture_default_str();
    sub->add_option("--params", sampled_, "Parameters checked by finite differences (0 = all)")
        ->check(count(0, UINT32_MAX))
        ->capture_default_str();
    sub->add_option("--threads", threads_, "CPU threads for the BLAS (0 = all cores)")
        ->check(count(0, 4096))
        ->capture_default_str();
    return sub;
  }

  int run() override {
    GradcheckOptions o;
    o.hyper = net_.hyper();
    o.sizes = parse_layers(settings_.layers.empty() ? "784,30,10" : settings_.layers);
    o.init = net_.initialisation();
    o.seed = settings_.seed;
    o.batch_size = settings_.batch_size;
    o.sampled = sampled_;
    o.threads = threads_;
    o.devices = gradcheck_devices();
    LabelledImages images = batch_images(o.sizes);
    std::printf("gradcheck: %s network, %s cost, lambda %g, batch of %zu\n", format_layers(o.sizes).c_str(),
                settings_.cost.c_str(), o.hyper.lambda, std::min(o.batch_size, images.count));
    std::fflush(stdout);
    bool ok = true;
    for (const GradcheckResult& r : gradcheck(images.view(), o)) {
      if (r.model) {  // the error model decides, so it alone says OK or FAIL
        const ErrorModel& m = *r.model;
        const Comparison& c = r.comparison;
        std::printf(
            "%s: %zu values, max abs err %.3g, max rel err %.3g; error model |got - ref| <= %g |ref| + %.3g: "
            "worst ratio %.3g at [%zu] (ref %.6g, got %.6g)  %s\n",
            r.label.c_str(), c.count, c.max_abs, c.max_rel, m.rtol, m.atol, m.worst_ratio, m.worst, r.ref[m.worst],
            r.got[m.worst], r.passed() ? "OK" : "FAIL");
      } else {
        print_comparison(std::cout, r.label, r.ref, r.got, r.comparison, r.tolerance);
      }
      ok = ok && r.passed();
    }
    std::printf("%s\n", ok ? "gradcheck passed" : "gradcheck FAILED");
    return ok ? 0 : 1;
  }

 private:
  // MNIST's training images if the folder has them and they fit the input layer, else random; but
  // a --data given must be there and fit.
  LabelledImages batch_images(const std::vector<size_t>& sizes) const {
    const bool given = data_option_->count() > 0;
    try {
      LabelledImages li = load_labelled_images(find_data_file(data_dir_, "train-images-idx3-ubyte"),
                                               find_data_file(data_dir_, "train-labels-idx1-ubyte"));
      if (li.rows * li.cols == sizes.front() &&
          size_t(*std::max_element(li.labels.begin(), li.labels.end())) < sizes.back())
        return li;
      if (given)
        throw UsageError("--data " + data_dir_ + ": its images (" + std::to_string(li.rows * li.cols) +
                         " pixels) or labels do not fit the " + format_layers(sizes) + " network");
    } catch (const UsageError&) {  // no data there: random images, unless asked for
      if (given) throw;
    }
    std::printf("gradcheck: using random images (no matching data in %s)\n", data_dir_.c_str());
    return synthetic_images(1000, sizes.front(), 1, sizes.back(), settings_.seed);
  }

  RunSettings settings_;
  NetworkOptions net_{settings_};
  std::string data_dir_ = default_data_dir();
  CLI::Option* data_option_ = nullptr;
  size_t sampled_ = 300;
  int threads_ = 0;
};

}  // namespace

std::unique_ptr<Command> make_gradcheck_command() { return std::make_unique<GradcheckCommand>(); }

}  // namespace bp::cli
