// See network.hpp. Training goes through bp::train with a backend from make_backend, the CLI's
// own entry points, so a run from NumPy arrays is the CLI's run: on the CPU backend the epoch
// records are bit-identical. The GIL is released while C++ works; it is taken back after each
// chunk of minibatches (100 of them, or 1% of a larger epoch) to notice Ctrl-C, and after each epoch for the
// record and the progress callback.
#include "network.hpp"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <atomic>
#include <filesystem>
#include <cstdio>
#include <optional>

#include "arrays.hpp"
#include "base/error.hpp"
#include "reference/reference.hpp"
#include "settings.hpp"
#include "train/backend_factory.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

namespace bp::python {
namespace {

std::string formatted(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}
std::string exact(double x) { return formatted("%.17g", x); }

// The fields and names of one line of `backprop train --log`.
py::dict epoch_record(const EpochReport& r, size_t train_count) {
  py::dict d;
  d["epoch"] = r.epoch;
  d["train_seconds"] = r.train_seconds;
  d["eval_seconds"] = r.eval_seconds;
  d["samples_per_second"] = double(train_count) / r.train_seconds;
  d["training_cost"] = r.training_cost;
  d["validation_correct"] = r.validation_correct;
  d["validation_count"] = r.validation_count;
  d["test_correct"] = r.test_correct;
  d["test_count"] = r.test_count;
  d["parameter_change"] = r.parameter_change;
  return d;
}

std::unique_ptr<Backend> backend_for(const std::string& device, int threads) {
  if (threads < 0) throw py::value_error("threads must be >= 0, got " + std::to_string(threads));
  BackendOptions o;
  o.device = parse_device(device);
  o.threads = threads;
  o.quiet_fallback = true;  // the backend chosen is in Network.device
  return make_backend(o);
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

class PyNetwork {
 public:
  PyNetwork(const std::vector<size_t>& sizes, const std::string& init, uint64_t seed)
      : net_(initialise(sizes, init_named(init), seed)), init_(init), seed_(seed) {
    check_sizes();
  }
  explicit PyNetwork(ModelFile file) : net_(std::move(file.net)), metadata_(std::move(file.metadata)) {
    if (metadata_.count("init")) init_ = metadata_["init"];
    if (metadata_.count("seed")) seed_ = std::stoull(metadata_["seed"]);
    check_sizes();
  }

  py::list train(const py::handle& x, const py::handle& y, size_t epochs, size_t batch, double eta,
                 const std::string& cost, double lmbda, const py::object& validation, const py::object& test,
                 const std::string& device, int threads, std::optional<uint64_t> seed, const py::object& progress) {
    if (epochs < 1) throw py::value_error("epochs must be >= 1, got 0");
    TrainOptions o;
    o.epochs = epochs;
    o.batch_size = batch;
    o.hyper = checked_hyper(eta, lmbda, cost, batch);
    o.seed = seed.value_or(seed_);
    const LabelledArrays train = labelled_arrays(x, y, net_.sizes.front(), net_.sizes.back(), "");
    const std::optional<LabelledArrays> val = optional_pair(validation, net_, "validation");
    const std::optional<LabelledArrays> tst = optional_pair(test, net_, "test");
    Dataset data;
    data.train = train.view();
    if (val) data.validation = val->view();
    if (tst) data.test = tst->view();
    data.classes = net_.sizes.back();
    o.evaluate_validation = bool(val);
    o.evaluate_test = bool(tst);
    std::unique_ptr<Backend> backend = backend_for(device, threads);
    device_ = backend->name();

    std::atomic<bool> stop{false};
    o.stop = &stop;
    std::optional<py::error_already_set> error;  // raised in a callback or by a signal handler
    history_ = py::list();
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
      py::dict record = epoch_record(r, data.train.count);
      history_.append(record);
      if (!progress.is_none() && !error) {
        try {
          progress(record);
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
      bp::train(*backend, net_, data, o, on_epoch, on_progress);
    }
    metadata_ = {{"cost", cost}, {"init", init_}, {"eta", exact(eta)}, {"lambda", exact(lmbda)},
                 {"mini_batch", std::to_string(batch)}, {"seed", std::to_string(o.seed)},
                 {"epochs", std::to_string(epochs)}};
    if (error) throw std::move(*error);
    if (diverged) {
      throw py::value_error("Epoch " + std::to_string(diverged_epoch) +
                            ": training diverged (cost or parameters are not finite); try a smaller eta than " +
                            formatted("%g", eta) + (lmbda > 0 ? " or a smaller lmbda" : ""));
    }
    return history_;
  }

  size_t evaluate(const py::handle& x, const py::handle& y, const std::string& device, int threads) {
    const LabelledArrays data = labelled_arrays(x, y, net_.sizes.front(), net_.sizes.back(), "");
    std::unique_ptr<Backend> backend = backend_for(device, threads);
    py::gil_scoped_release nogil;
    backend->load(net_);
    return backend->evaluate(data.view());
  }

  // The output activations of every image, in float64 through the reference's feedforward (as
  // `backprop predict` computes them).
  py::array_t<double> predict(const py::handle& x) const {
    const LabelledArrays images = image_array(x, net_.sizes.front(), "x");
    const size_t outputs = net_.sizes.back();
    py::array_t<double> out({py::ssize_t(images.count), py::ssize_t(outputs)});
    double* o = out.mutable_data();
    const DataView view = images.view();
    py::gil_scoped_release nogil;
    const reference::Params p = reference::from_network(net_);
    for (size_t i = 0; i < images.count; ++i) {
      const reference::Vector a = reference::feedforward(p, reference::input_vector(view, i));
      std::copy(a.begin(), a.end(), o + i * outputs);
    }
    return out;
  }

  void save(const std::filesystem::path& path) const {
    Metadata md = metadata_;
    md["written_by"] = "backprop python module";
    md.erase("next_epoch");
    md.erase("next_sample");
    save_model(path.string(), net_, md);
  }

  py::list weights() const {
    py::list out;
    for (size_t l = 0; l + 1 < net_.num_layers(); ++l) out.append(weights_array(net_, l));
    return out;
  }
  py::list biases() const {
    py::list out;
    for (size_t l = 0; l + 1 < net_.num_layers(); ++l) out.append(biases_array(net_, l));
    return out;
  }
  void set_weights(const py::handle& a) { assign_weights(net_, a); }
  void set_biases(const py::handle& a) { assign_biases(net_, a); }

  std::vector<size_t> sizes() const { return net_.sizes; }
  const Metadata& metadata() const { return metadata_; }
  const std::string& device() const { return device_; }
  py::list history() const { return history_; }

  std::string repr() const {
    return "backprop.Network([" + format_layers(net_.sizes) + "], " + std::to_string(net_.parameter_count()) +
           " parameters)";
  }

 private:
  // The trainer keeps labels as bytes.
  void check_sizes() const {
    if (net_.sizes.back() > 256)
      throw py::value_error("the output layer has " + std::to_string(net_.sizes.back()) +
                            " neurons; labels are bytes, so at most 256 classes");
  }

  Network net_;
  Metadata metadata_;      // the settings of the last train(), or of the file loaded
  std::string init_ = "normal";
  uint64_t seed_ = 1;      // the default seed of the epoch shuffles: the initialisation's, as in the CLI
  std::string device_;
  py::list history_;
};

constexpr const char* kTrainDoc = R"(Mini-batch SGD as network.py runs it, through the same trainer as `backprop train`.

x: images, shape (n, pixels), uint8 (divided by 255 as the CLI's loader does) or float32/float64
   in [0, 1]. The trainer works on bytes, as for MNIST files, so float pixels are rounded to the
   nearest k/255: exact for images that were bytes, a change of at most 1/510 for others.
   C or Fortran order; a C-ordered uint8 array is used without a copy.
y: integer labels, shape (n,), each in [0, outputs).
validation, test: optional (x, y) pairs evaluated after each epoch.
device: "auto" (CUDA if usable, else the CPU), "cpu", "cuda" or "reference" (float64).
threads: CPU threads (0 = all cores). seed: of the epoch shuffles; by default the seed the
   network was initialised with, as `backprop train --seed` seeds both. progress: called after each epoch with that epoch's record.

Returns the history, one dict per epoch with the fields of `backprop train --log` (also kept as
Network.history). Each call starts from epoch 0 of the seed's shuffles, as a fresh
`backprop train` does. Ctrl-C stops after the chunk of minibatches in flight and raises
KeyboardInterrupt; the network keeps the parameters reached. A run whose cost or parameters stop
being finite raises ValueError naming the epoch.)";

}  // namespace

void bind_network(py::module_& m) {
  py::class_<PyNetwork>(m, "Network", "A fully-connected sigmoid network (network.py's Network), float32 parameters.")
      .def(py::init<const std::vector<size_t>&, const std::string&, uint64_t>(), py::arg("sizes"),
           py::arg("init") = "normal", py::arg("seed") = 1,
           "Layer sizes, input first ([784, 30, 10]); init 'normal' (N(0,1), network.py) or 'scaled' "
           "(N(0,1/n_in) weights, network2.py); the same seed gives the CLI's initial weights.")
      .def("train", &PyNetwork::train, kTrainDoc, py::arg("x"), py::arg("y"), py::kw_only(), py::arg("epochs") = 30,
           py::arg("batch") = 10, py::arg("eta") = 3.0, py::arg("cost") = "quadratic", py::arg("lmbda") = 0.0,
           py::arg("validation") = py::none(), py::arg("test") = py::none(), py::arg("device") = "auto",
           py::arg("threads") = 1, py::arg("seed") = py::none(), py::arg("progress") = py::none())
      .def("evaluate", &PyNetwork::evaluate, "How many images the network classifies correctly (argmax of the output).",
           py::arg("x"), py::arg("y"), py::kw_only(), py::arg("device") = "auto", py::arg("threads") = 1)
      .def("predict", &PyNetwork::predict, "Output activations, shape (n, outputs), float64.", py::arg("x"))
      .def("save", &PyNetwork::save, "Write a safetensors model file, as `backprop train --save` does.", py::arg("path"))
      .def_static("load", [](const std::filesystem::path& path) { return PyNetwork(load_model(path.string())); },
                  "Read a model or checkpoint written by the CLI or by save().", py::arg("path"))
      .def_property("weights", &PyNetwork::weights, &PyNetwork::set_weights,
                    "Per layer, float32 (n_out, n_in) copies; assign a list of arrays of the same shapes to change them.")
      .def_property("biases", &PyNetwork::biases, &PyNetwork::set_biases,
                    "Per layer, float32 (n_out,) copies; assign a list of arrays of the same shapes to change them.")
      .def_property_readonly("sizes", &PyNetwork::sizes)
      .def_property_readonly("metadata", &PyNetwork::metadata, "The settings saved with the model.")
      .def_property_readonly("device", &PyNetwork::device, "The backend the last train() ran on.")
      .def_property_readonly("history", &PyNetwork::history, "The epoch records of the last train().")
      .def("__repr__", &PyNetwork::repr);
}

}  // namespace bp::python
