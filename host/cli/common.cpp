// Shared options of the subcommands.
#include "cli/common.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "base/error.hpp"

namespace bp::cli {

CLI::Validator count(uint64_t min, uint64_t max) {
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const std::string want = "must be a whole number, " + range + ", got '" + text + "'";
        if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos) return want;
        errno = 0;
        const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE || v < min || v > max) return want;
        return "";
      },
      "COUNT");
}

CLI::Validator finite() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
          return "must be a finite number, got '" + text + "'";
        return "";
      },
      "NUMBER");
}

void DataOptions::add(CLI::App& app, bool train_size) {
  app.add_option("--data", dir,
                 "Folder with the four MNIST-format IDX files (raw or .gz); $BACKPROP_DATA sets the default")
      ->capture_default_str();
  if (train_size)
    app.add_option("--train-size", settings.train_size,
                   "Training images, from the start of the training file [default: 5/6 of it, 50000 for MNIST]")
        ->check(count(1, UINT32_MAX));
  app.add_option("--validation-size", settings.validation_size,
                 "Validation images, from the end of the training file [default: 1/6 of it, 10000 for MNIST]")
      ->check(count(0, UINT32_MAX));
}

Dataset DataOptions::load(std::optional<size_t> classes) const {
  return load_dataset(dir, {settings.train_size, settings.validation_size}, classes);
}

std::optional<size_t> NetworkOptions::classes() const {
  if (settings.layers.empty()) return std::nullopt;
  return parse_layers(settings.layers).back();
}

void NetworkOptions::add(CLI::App& app) {
  app.add_option("--layers", settings.layers,
                 "Neurons per layer, input first [default: image pixels,30,classes: 784,30,10 for MNIST]");
  app.add_option(
         "--cost", settings.cost,
         "quadratic (network.py), cross-entropy (network2.py), or log-likelihood (softmax output layer, chapter 3)")
      ->capture_default_str();
  app.add_option("--init", settings.init, "normal: N(0,1) weights (network.py); scaled: N(0,1/n_in) (network2.py)")
      ->capture_default_str();
  app.add_option("--eta", settings.eta, "Learning rate")->check(finite())->capture_default_str();
  app.add_option("--lambda", settings.lambda, "L2 regularisation, scaled by 1/n as in network2.py")
      ->check(finite())
      ->capture_default_str();
  app.add_option("--momentum", settings.momentum,
                 "Momentum mu in [0, 1): v = mu v - eta grad, w += v (chapter 3); 0 is plain SGD")
      ->check(finite())
      ->capture_default_str();
  app.add_option("--batch,--mini-batch", settings.batch_size, "Mini-batch size")
      ->check(count(1, UINT32_MAX))
      ->capture_default_str();
  app.add_option("--seed", settings.seed, "Seed of the initial weights and the shuffles")
      ->check(count(0, kAny))
      ->capture_default_str();
}

void check_model_fits(const std::string& model, const Network& net, size_t inputs, size_t classes) {
  if (net.sizes.front() != inputs || net.sizes.back() != classes) {
    throw UsageError(model + " is a " + format_layers(net.sizes) + " network but the data have " +
                     std::to_string(inputs) + " pixels and " + std::to_string(classes) + " classes");
  }
}

// The model's name table, with the flag's dashes in the message.
Init NetworkOptions::initialisation() const {
  try {
    return init_from_name(settings.init);
  } catch (const UsageError& e) {
    throw UsageError(std::string("--") + e.what());
  }
}

Hyper NetworkOptions::hyper() const {
  try {
    return checked_hyper(settings);
  } catch (const UsageError& e) {
    throw UsageError(std::string("--") + e.what());
  }
}

std::vector<size_t> NetworkOptions::checked_layers(const Dataset& data) const {
  return bp::checked_layers(settings, data);
}

void DeviceOptions::add(CLI::App& app) {
  app.add_option(
         "--device", device,
         "auto (the engine predicted fastest for the network and mini-batch), cpu, cuda, or reference (float64, slow)")
      ->capture_default_str();
  app.add_option("--threads", threads,
                 "CPU threads: evaluation is split across them, and the BLAS uses them (0 = all cores)")
      ->check(count(0, 4096))
      ->capture_default_str();
  app.add_flag("--streamed", streamed,
               "CUDA: stream minibatches from pinned host memory instead of keeping the data on the device");
}

void DeviceOptions::add_engine(CLI::App& app) {
  app.add_option("--engine", engine,
                 "How the GPU trains: auto (the engine predicted faster for the network and mini-batch), cublas "
                 "(cuBLAS and small kernels, replayed from CUDA graphs), or fused (one kernel per chunk of steps, the "
                 "network in a thread block's shared memory; small networks)")
      ->capture_default_str();
}

std::unique_ptr<Backend> DeviceOptions::make(bool quiet) const { return make({}, 0, quiet); }

std::unique_ptr<Backend> DeviceOptions::make(const std::vector<size_t>& sizes, size_t batch, bool quiet) const {
  if (threads < 0) throw UsageError("--threads must be >= 0, got " + std::to_string(threads));
  BackendOptions o;
  o.device = parse_device(device);
  o.threads = threads;
  o.streamed = streamed;
  o.engine = parse_engine(engine);
  o.quiet_fallback = quiet;
  o.sizes = sizes;
  o.batch = batch;
  return make_backend(o);
}

}  // namespace bp::cli
