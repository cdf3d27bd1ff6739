// Options that several subcommands share (data, network, device), each registered on a CLI11
// subcommand by one function, and the checks that turn bad values into one clear UsageError.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.hpp"
#include "model/network.hpp"
#include "train/backend_factory.hpp"
#include "train/run_settings.hpp"

namespace bp::cli {

// The flags of the data (--data, --train-size, --validation-size); the sizes go into `settings`.
struct DataOptions {
  explicit DataOptions(RunSettings& s) : settings(s) {}
  std::string dir = default_data_dir();
  RunSettings& settings;
  // `train_size`: whether to add --train-size (a sweep has its own, a list).
  void add(CLI::App& app, bool train_size = true);
  Dataset load(std::optional<size_t> classes = {}) const;
};

// The flags of the network and its SGD (--layers, --cost, --init, --eta, --lambda, --batch,
// --seed), bound to the fields of `settings`.
struct NetworkOptions {
  explicit NetworkOptions(RunSettings& s) : settings(s) {}
  RunSettings& settings;
  void add(CLI::App& app);
  // Checks the values and that the layers fit the data: input = image size, output = classes.
  std::vector<size_t> checked_layers(const Dataset& data) const;
  // The output layer's size when --layers is given: it settles the number of classes.
  std::optional<size_t> classes() const;
  Hyper hyper() const;
  Init initialisation() const;
};

struct DeviceOptions {
  std::string device = "auto";
  std::string engine = "auto";
  int threads = 0;
  bool streamed = false;
  void add(CLI::App& app);
  void add_engine(CLI::App& app);  // --engine, for the commands that train
  std::unique_ptr<Backend> make(bool quiet = false) const;
  // For training: auto chooses its engine for this network and mini-batch (engine_choice.hpp).
  std::unique_ptr<Backend> make(const std::vector<size_t>& sizes, size_t batch, bool quiet = false) const;
};

// "Does this model fit this data": `net`, read from `model`, must take `inputs` inputs and give
// `classes` outputs; a usage error naming the model otherwise.
void check_model_fits(const std::string& model, const Network& net, size_t inputs, size_t classes);

// Checks on the text of a flag before CLI11 converts it (CLI11 would wrap "-1" to 2^64-1): a
// whole decimal number in min..max; a finite number. Failures are usage errors naming the flag.
CLI::Validator count(uint64_t min, uint64_t max);
CLI::Validator finite();
constexpr uint64_t kAny = UINT64_MAX;

// A subcommand: registers its options on `app`, then runs once parsing succeeded.
class Command {
 public:
  virtual ~Command() = default;
  virtual CLI::App* add(CLI::App& app) = 0;
  virtual int run() = 0;
};

std::unique_ptr<Command> make_train_command();
std::unique_ptr<Command> make_eval_command();
std::unique_ptr<Command> make_gradcheck_command();
std::unique_ptr<Command> make_info_command();
std::unique_ptr<Command> make_bench_command();
std::unique_ptr<Command> make_predict_command();
std::unique_ptr<Command> make_inspect_command();
std::unique_ptr<Command> make_sweep_command();
std::unique_ptr<Command> make_serve_command();  // where cpp-httplib was found (BACKPROP_HAVE_SERVE)

}  // namespace bp::cli
