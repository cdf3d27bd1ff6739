// network.train(): NumPy arrays to the trainer the CLI runs (bp::train with a backend from
// make_backend), so a run from Python is the CLI's run: on the CPU backend the epoch records are
// bit-identical, verbose=True prints the CLI's epoch lines, and checkpoints are the CLI's files
// (either resumes the other's). The GIL is released while C++ trains; it is taken back after each
// chunk of minibatches (100 of them, or 1% of a larger epoch) to notice Ctrl-C, and after each
// epoch for the record and the progress callback.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <set>
#include <string>

#include "model/network.hpp"
#include "train/run_settings.hpp"
#include "train/trainer.hpp"

namespace bp::python {

namespace py = pybind11;

struct TrainArguments {
  // epochs, batch, eta, cost, lambda, momentum, seed and the training tools (schedule, early stop,
  // expand, shuffled labels), checked by the CLI's code; the network's layers and the data split
  // are the arrays'. On a resume they are the checkpoint's, and those passed must agree.
  RunSettings settings;
  std::set<std::string> given;  // the CLI flags ("--eta") of the settings passed explicitly
  py::object validation, test;  // (x, y) or None
  std::string device;
  std::string engine;  // the GPU's: "auto", "cublas" or "fused"
  int threads;
  py::object progress;             // called with each epoch's record, or None
  bool verbose = false;            // print the CLI's epoch lines and summary
  std::string checkpoint, resume;  // paths, or empty
  size_t checkpoint_every = 0;
  std::string save;  // `backprop train --save`'s model file (the best-validation epoch's), or empty
};

struct TrainRun {
  py::list history;      // one dict per finished epoch, the fields of `backprop train --log`
  std::string device;    // the backend's name, once made
  bool started = false;  // the arguments were good and training began
  RunSettings settings;  // what trained (a resume's are the checkpoint's)
};

// One line of `backprop train --log` (the library's epoch_record) as a Python dict.
py::dict epoch_dict(const EpochReport& r);

// Trains `net` in place (a resume first replaces its parameters with the checkpoint's). Raises
// ValueError on bad arguments or a diverged run, re-raises KeyboardInterrupt or an exception from
// the progress callback after stopping cleanly (and writing the checkpoint, if one was asked for);
// `run` is filled in as it goes, so it holds the epochs done whatever happens.
void train_network(Network& net, const py::handle& x, const py::handle& y, const TrainArguments& a, TrainRun& run);

}  // namespace bp::python
