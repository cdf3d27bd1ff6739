// See training.hpp.
#include "training.hpp"

#include <pybind11/stl.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <optional>

#include "arrays.hpp"
#include "settings.hpp"
#include "train/backend_factory.hpp"
#include "train/epoch_record.hpp"
#include "train/run_settings.hpp"
#include "train/trainer.hpp"

namespace bp::python {
namespace {

// One line of `backprop train --log` (the library's epoch_record) as a Python dict.
py::dict epoch_dict(const EpochReport& r) { return py::module_::import("json").attr("loads")(epoch_record(r).dump()); }

// A (x, y) pair given as validation= or test=, or None.
std::optional<LabelledArrays> optional_pair(const py::object& pair, const Network& net, const std::string& name) {
  if (pair.is_none()) return std::nullopt;
  if (!py::isinstance<py::tuple>(pair) && !py::isinstance<py::list>(pair))
    throw py::value_error(name + " must be a pair (x, y) of arrays or None");
  const py::sequence s = py::reinterpret_borrow<py::sequence>(pair);
  if (s.size() != 2) throw py::value_error(name + " must be a pair (x, y) of arrays or None");
  return labelled_arrays(s[0], s[1], net.sizes.front(), net.sizes.back(), "_" + name);
}

// The arrays one call trains on, held for the run, and the Dataset that views them (made in
// place: the views point into the arrays). Square images get their width, which --expand
// shifts needs; the labels are shuffled (seeded, as the CLI does) for shuffle_labels.
struct ArrayData {
  LabelledArrays train;
  std::optional<LabelledArrays> validation, test;
  std::vector<uint8_t> shuffled;
  Dataset data;

  ArrayData(const Network& net, const py::handle& x, const py::handle& y, const TrainArguments& a)
      : train(labelled_arrays(x, y, net.sizes.front(), net.sizes.back(), "")),
        validation(optional_pair(a.validation, net, "validation")),
        test(optional_pair(a.test, net, "test")) {
    data.train = train.view();
    const size_t side = size_t(std::lround(std::sqrt(double(train.dim))));
    if (side * side == train.dim) data.train.width = side;
    if (a.settings.shuffle_labels) {
      shuffled = shuffled_labels(data.train, a.settings.seed);
      data.train.labels = shuffled.data();
    }
    if (validation) data.validation = validation->view();
    if (test) data.test = test->view();
    data.classes = net.sizes.back();
  }
};

// The trainer's callbacks, run on its thread, into Python: each epoch's record into the history
// and to progress(); Ctrl-C (a pending signal) or an exception in progress() stops the run after
// the chunk in flight, and is raised again once the trainer has returned.
class PythonCallbacks {
 public:
  PythonCallbacks(const TrainArguments& a, TrainRun& run) : a_(a), run_(run) {}

  const std::atomic<bool>* stop() const { return &stop_; }

  void on_epoch(const EpochReport& r) {
    py::gil_scoped_acquire gil;
    if (!r.finite) {
      diverged_ = true;
      diverged_epoch_ = r.epoch;
      return;
    }
    py::dict record = epoch_dict(r);
    run_.history.append(record);
    if (!a_.progress.is_none() && !error_) {
      try {
        a_.progress(record);
      } catch (py::error_already_set& e) {
        error_.emplace(std::move(e));
        stop_ = true;
      }
    }
    check_signals();
  }

  void on_progress() {
    py::gil_scoped_acquire gil;
    check_signals();
  }

  // After the run, with the GIL held: what stopped it, raised.
  void raise_what_stopped() {
    if (error_) throw std::move(*error_);
    if (diverged_) {
      char eta[32];
      std::snprintf(eta, sizeof eta, "%g", a_.settings.eta);
      throw py::value_error("Epoch " + std::to_string(diverged_epoch_) +
                            ": training diverged (cost or parameters are not finite); try a smaller eta than " + eta +
                            (a_.settings.lambda > 0 ? " or a smaller lmbda" : ""));
    }
  }

 private:
  void check_signals() {
    if (!error_ && PyErr_CheckSignals() != 0) {
      error_.emplace();
      stop_ = true;
    }
  }

  const TrainArguments& a_;
  TrainRun& run_;
  std::atomic<bool> stop_{false};
  std::optional<py::error_already_set> error_;  // raised in the callback or by a signal handler
  bool diverged_ = false;
  size_t diverged_epoch_ = 0;
};

// The trainer's options from the settings, checked as the CLI checks its flags.
TrainOptions checked_options(const RunSettings& s) {
  if (s.epochs < 1) throw py::value_error("epochs must be >= 1, got 0");
  TrainOptions o;
  try {
    o = train_options(s);
  } catch (const UsageError& e) {
    raise_value_error(e);
  }
  o.hyper = hyper_of(s);
  return o;
}

}  // namespace

void train_network(Network& net, const py::handle& x, const py::handle& y, const TrainArguments& a, TrainRun& run) {
  const RunSettings& s = a.settings;
  TrainOptions o = checked_options(s);
  const ArrayData arrays(net, x, y, a);
  if (s.batch_size > arrays.train.count)  // as the CLI refuses it, before any workspace is sized by it
    throw py::value_error("batch " + std::to_string(s.batch_size) + " exceeds the " +
                          std::to_string(arrays.train.count) + " training images");
  if ((o.plateau > 0 || o.early_stop > 0) && !arrays.validation)
    throw py::value_error("schedule and early_stop need validation data: pass validation=(x, y)");
  if (o.shifts && arrays.data.train.width == 0)
    throw py::value_error("expand='shifts' needs square images (" + std::to_string(arrays.train.dim) +
                          " pixels is not a whole number squared)");
  o.evaluate_validation = bool(arrays.validation);
  o.evaluate_test = bool(arrays.test);
  Network velocity;  // momentum's, from zero as a fresh `backprop train` starts
  o.velocity = &velocity;
  std::unique_ptr<Backend> backend = backend_named(a.device, a.threads, net.sizes, s.batch_size, a.engine);
  // The output layer is the cost's (softmax for log-likelihood), as `backprop train` initialises
  // it; the parameters are the same either way.
  net.output = output_layer(o.hyper.cost);
  run.device = backend->name();
  run.started = true;
  PythonCallbacks callbacks(a, run);
  o.stop = callbacks.stop();
  {
    py::gil_scoped_release nogil;
    bp::train(
        *backend, net, arrays.data, o, [&](const EpochReport& r) { callbacks.on_epoch(r); },
        [&](size_t, size_t) { callbacks.on_progress(); });
  }
  callbacks.raise_what_stopped();
}

}  // namespace bp::python
