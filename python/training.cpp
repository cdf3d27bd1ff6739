// See training.hpp.
#include "training.hpp"

#include <pybind11/stl.h>

#include <atomic>
#include <cstdio>
#include <optional>

#include "arrays.hpp"
#include "settings.hpp"
#include "train/backend_factory.hpp"
#include "train/epoch_record.hpp"
#include "train/trainer.hpp"

namespace bp::python {
namespace {

// One line of `backprop train --log` (the library's epoch_record) as a Python dict.
py::dict epoch_dict(const EpochReport& r) {
  return py::module_::import("json").attr("loads")(epoch_record(r).dump());
}

// A (x, y) pair given as validation= or test=, or None.
std::optional<LabelledArrays> optional_pair(const py::object& pair, const Network& net, const std::string& name) {
  if (pair.is_none()) return std::nullopt;
  if (!py::isinstance<py::tuple>(pair) && !py::isinstance<py::list>(pair))
    throw py::value_error(name + " must be a pair (x, y) of arrays or None");
  const py::sequence s = py::reinterpret_borrow<py::sequence>(pair);
  if (s.size() != 2) throw py::value_error(name + " must be a pair (x, y) of arrays or None");
  return labelled_arrays(s[0], s[1], net.sizes.front(), net.sizes.back(), "_" + name);
}

}  // namespace

void train_network(Network& net, const py::handle& x, const py::handle& y, const TrainArguments& a, TrainRun& run) {
  if (a.epochs < 1) throw py::value_error("epochs must be >= 1, got 0");
  TrainOptions o;
  o.epochs = a.epochs;
  o.batch_size = a.batch;
  o.hyper = checked_hyper(a.eta, a.lmbda, a.cost, a.batch);
  o.seed = a.seed;
  const LabelledArrays train = labelled_arrays(x, y, net.sizes.front(), net.sizes.back(), "");
  const std::optional<LabelledArrays> val = optional_pair(a.validation, net, "validation");
  const std::optional<LabelledArrays> tst = optional_pair(a.test, net, "test");
  Dataset data;
  data.train = train.view();
  if (val) data.validation = val->view();
  if (tst) data.test = tst->view();
  data.classes = net.sizes.back();
  o.evaluate_validation = bool(val);
  o.evaluate_test = bool(tst);
  std::unique_ptr<Backend> backend = backend_named(a.device, a.threads, net.sizes, a.batch, a.engine);
  run.device = backend->name();
  run.started = true;

  std::atomic<bool> stop{false};
  o.stop = &stop;
  std::optional<py::error_already_set> error;  // raised in the callback or by a signal handler
  bool diverged = false;
  size_t diverged_epoch = 0;
  const auto check_signals = [&] {
    if (!error && PyErr_CheckSignals() != 0) {
      error.emplace();
      stop = true;
    }
  };
  const auto on_epoch = [&](const EpochReport& r) {
    py::gil_scoped_acquire gil;
    if (!r.finite) {
      diverged = true;
      diverged_epoch = r.epoch;
      return;
    }
    py::dict record = epoch_dict(r);
    run.history.append(record);
    if (!a.progress.is_none() && !error) {
      try {
        a.progress(record);
      } catch (py::error_already_set& e) {
        error.emplace(std::move(e));
        stop = true;
      }
    }
    check_signals();
  };
  const auto on_progress = [&](size_t, size_t) {
    py::gil_scoped_acquire gil;
    check_signals();
  };
  {
    py::gil_scoped_release nogil;
    bp::train(*backend, net, data, o, on_epoch, on_progress);
  }
  if (error) throw std::move(*error);
  if (diverged) {
    char eta[32];
    std::snprintf(eta, sizeof eta, "%g", a.eta);
    throw py::value_error("Epoch " + std::to_string(diverged_epoch) +
                          ": training diverged (cost or parameters are not finite); try a smaller eta than " + eta +
                          (a.lmbda > 0 ? " or a smaller lmbda" : ""));
  }
}

}  // namespace bp::python
