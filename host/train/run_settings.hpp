// The settings of a training run, in one place: what the flags set, what a checkpoint records,
// and what a resumed run adopts. Each field is listed once in `visit_fields` with its metadata
// key, its flag and what a resume does with it; the to/from-metadata pair and the resume rule
// are written once over that list, so a new setting is one member and one line. Numbers
// round-trip exactly: integers as decimal digits (all 64 bits), doubles as %.17g.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

namespace bp {

struct RunSettings {
  // The network.
  std::string layers;  // empty: image pixels, 30, classes (784,30,10 for MNIST)
  std::string cost = "quadratic";
  std::string init = "normal";
  // Stochastic gradient descent.
  double eta = 3.0;
  double lambda = 0.0;
  double momentum = 0.0;  // chapter 3's mu; 0: plain SGD
  uint64_t batch_size = 10;
  uint64_t seed = 1;
  uint64_t epochs = 30;  // in all, counting those before a resume
  // The data.
  std::optional<uint64_t> train_size;       // unset: 5/6 of the training file (50,000 for MNIST)
  std::optional<uint64_t> validation_size;  // unset: the last 1/6 (10,000 for MNIST)
  bool shuffle_labels = false;
  std::string expand = "none";  // "shifts": each training image also shifted one pixel four ways
  // Chapter 3's schedule and early stopping.
  std::string schedule = "none";  // "plateau:N": halve eta after N epochs without a validation best
  uint64_t early_stop = 0;        // stop after this many epochs without a validation best (0: never)
};

// What a resume does with a field when its flag is given too.
enum class OnResume {
  must_agree,  // the flag must equal the checkpoint's value (else a usage error)
  flag_wins,   // the flag replaces the checkpoint's value (e.g. --epochs: train longer)
};

struct Field {
  const char* key;   // metadata key
  const char* flag;  // the command-line flag that sets it
  OnResume on_resume;
  bool required;  // a checkpoint without it is refused; otherwise the default stays (older files)
};

// Calls visit(field, s.member...) for every setting, the same member of each of `s` (RunSettings,
// const or not): one object to write or read it, two to compare them.
template <class Visit, class... S>
void visit_fields(Visit&& visit, S&... s) {
  visit(Field{"layers", "--layers", OnResume::must_agree, true}, s.layers...);
  visit(Field{"cost", "--cost", OnResume::must_agree, true}, s.cost...);
  visit(Field{"init", "--init", OnResume::must_agree, true}, s.init...);
  visit(Field{"eta", "--eta", OnResume::must_agree, true}, s.eta...);
  visit(Field{"lambda", "--lambda", OnResume::must_agree, true}, s.lambda...);
  visit(Field{"momentum", "--momentum", OnResume::must_agree, false}, s.momentum...);
  visit(Field{"mini_batch", "--batch", OnResume::must_agree, true}, s.batch_size...);
  visit(Field{"seed", "--seed", OnResume::must_agree, true}, s.seed...);
  visit(Field{"epochs", "--epochs", OnResume::flag_wins, true}, s.epochs...);
  visit(Field{"train_size", "--train-size", OnResume::must_agree, false}, s.train_size...);
  visit(Field{"validation_size", "--validation-size", OnResume::must_agree, false}, s.validation_size...);
  visit(Field{"shuffle_labels", "--shuffle-labels", OnResume::must_agree, false}, s.shuffle_labels...);
  visit(Field{"expand", "--expand", OnResume::must_agree, false}, s.expand...);
  visit(Field{"schedule", "--schedule", OnResume::must_agree, false}, s.schedule...);
  visit(Field{"early_stop", "--early-stop", OnResume::must_agree, false}, s.early_stop...);
}

// The settings as checkpoint metadata (an unset optional writes no key).
Metadata to_metadata(const RunSettings& s);

// The settings a checkpoint recorded. Throws bp::Error naming `file` when a required key is
// missing or a value does not parse exactly.
RunSettings from_metadata(const Metadata& md, const std::string& file);

// How a resume's conflict ends: drop the flag (Python's module says "that argument").
inline constexpr const char* kDropTheFlag = "(drop the flag to resume)";

// A resume: `mine` (from the flags) takes the checkpoint's settings; for a field whose flag
// `given` reports, must_agree fields that differ throw bp::UsageError naming the flag, and
// flag_wins fields keep the flag's value.
void adopt_settings(RunSettings& mine, const RunSettings& checkpoint, const std::string& file,
                    const std::function<bool(const char* flag)>& given);

// A whole non-negative decimal number stored under `key` (exactly, up to 2^64-1); bp::Error
// naming `file` when it is missing or anything else.
uint64_t metadata_count(const Metadata& md, const std::string& key, const std::string& file);

// --schedule's "none" or "plateau:N" (N >= 1) as the plateau length, 0 for none; UsageError
// otherwise.
size_t plateau_epochs(const std::string& schedule);

// The SGD hyper-parameters of the settings, checked: eta > 0, lambda >= 0, 0 <= momentum < 1
// (all finite), batch >= 1 and a known cost. UsageError naming the setting ("eta must be > 0,
// got 0"), which the CLI prefixes with its dashes and Python raises as ValueError.
Hyper checked_hyper(const RunSettings& s);

// The network's layer sizes for `data`: s.layers parsed (empty: the pixels, 30, the classes), its
// input the images' pixels and its output the data's classes; UsageError naming --layers.
std::vector<size_t> checked_layers(const RunSettings& s, const Dataset& data);

// The trainer's options that follow from the settings alone: epochs, batch, seed and the training
// tools. The caller adds the checked hyper-parameters and, for a resume, where to start.
TrainOptions train_options(const RunSettings& s);

}  // namespace bp
