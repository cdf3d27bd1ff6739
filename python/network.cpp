// See network.hpp. Training itself is in training.cpp; evaluate and predict release the GIL
// while C++ works.
#include "network.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "arrays.hpp"
#include "base/error.hpp"
#include "reference/reference.hpp"
#include "settings.hpp"
#include "train/backend_factory.hpp"
#include "train/checkpoint.hpp"
#include "train/run_settings.hpp"
#include "training.hpp"

namespace bp::python {
namespace {

// Who is using a network's parameters right now. train() writes them with the GIL released, and
// evaluate() and predict() read them with it released, so another Python thread could reach the
// same network meanwhile: train() needs it alone, the readers may share it, and a call that
// would race refuses with a RuntimeError instead of crashing or handing out torn parameters.
// The counts change and are read only with the GIL held, which orders them.
class Users {
 public:
  // Held by train(): nothing else may run on the network until it returns.
  class Writer {
   public:
    explicit Writer(Users& u) : u_(u) {
      u_.check_unused("train()");
      u_.writing_ = true;
    }
    ~Writer() { u_.writing_ = false; }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

   private:
    Users& u_;
  };
  // Held by a reader that releases the GIL (evaluate, predict).
  class Reader {
   public:
    Reader(Users& u, const char* what) : u_(u) {
      u_.check_no_writer(what);
      ++u_.readers_;
    }
    ~Reader() { --u_.readers_; }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

   private:
    Users& u_;
  };

  // A read with the GIL held throughout (weights, biases, save): only train() is in the way.
  void check_no_writer(const char* what) const {
    if (writing_)
      throw std::runtime_error(std::string("Network.") + what +
                               ": the network is training (train() is running in another thread, or this is its "
                               "progress callback); wait for train() to return");
  }
  // A change with the GIL held (assigning weights or biases): no reader or writer may be running.
  void check_unused(const char* what) const {
    check_no_writer(what);
    if (readers_ > 0)
      throw std::runtime_error(std::string("Network.") + what +
                               ": evaluate() or predict() is running on the network in another thread; wait for it "
                               "to return");
  }

 private:
  bool writing_ = false;
  size_t readers_ = 0;
};

class PyNetwork {
 public:
  PyNetwork(const std::vector<size_t>& sizes, const std::string& init, uint64_t seed)
      : net_(initialise(sizes, init_named(init), seed)), init_(init), seed_(seed) {
    check_sizes();
  }
  // A crafted seed is the CLI's one-sentence error (a RuntimeError), not stoull's.
  PyNetwork(ModelFile file, const std::string& path) : net_(std::move(file.net)), metadata_(std::move(file.metadata)) {
    if (metadata_.count("init")) init_ = metadata_["init"];
    if (metadata_.count("seed")) seed_ = metadata_count(metadata_, "seed", path);
    check_sizes();
  }

  // The settings left as None are the CLI's defaults, or on a resume the checkpoint's; those passed
  // are "given" as the CLI's flags are (a resume checks them against the checkpoint).
  struct Given {
    std::optional<uint64_t> epochs, batch;
    std::optional<double> eta;
    std::optional<std::string> cost;
    std::optional<double> lmbda, momentum;
    std::optional<std::string> schedule;
    std::optional<uint64_t> early_stop;
    std::optional<std::string> expand;
    std::optional<bool> shuffle_labels;
    std::optional<uint64_t> seed;
  };

  py::list train(const py::handle& x, const py::handle& y, const Given& g, const py::object& validation,
                 const py::object& test, const std::string& device, const std::string& engine, int threads,
                 const py::object& progress, bool verbose, const std::optional<std::filesystem::path>& checkpoint,
                 size_t checkpoint_every, const std::optional<std::filesystem::path>& resume,
                 const std::optional<std::filesystem::path>& save) {
    TrainArguments a;
    RunSettings& s = a.settings;
    s.layers = format_layers(net_.sizes);
    s.init = init_;
    s.seed = seed_;
    const auto take = [&](const auto& value, auto& member, const char* flag) {
      if (!value) return;
      member = *value;
      a.given.insert(flag);
    };
    take(g.epochs, s.epochs, "--epochs");
    take(g.batch, s.batch_size, "--batch");
    take(g.eta, s.eta, "--eta");
    take(g.cost, s.cost, "--cost");
    take(g.lmbda, s.lambda, "--lambda");
    take(g.momentum, s.momentum, "--momentum");
    take(g.schedule, s.schedule, "--schedule");
    take(g.early_stop, s.early_stop, "--early-stop");
    take(g.expand, s.expand, "--expand");
    take(g.shuffle_labels, s.shuffle_labels, "--shuffle-labels");
    take(g.seed, s.seed, "--seed");
    a.validation = validation;
    a.test = test;
    a.device = device;
    a.engine = engine;
    a.threads = threads;
    a.progress = progress;
    a.verbose = verbose;
    if (checkpoint) a.checkpoint = checkpoint->string();
    a.checkpoint_every = checkpoint_every;
    if (resume) a.resume = resume->string();
    if (save) a.save = save->string();
    const Users::Writer alone(users_);
    TrainRun run;
    try {
      train_network(net_, x, y, a, run);
    } catch (...) {
      if (run.started) keep(run, a);  // interrupted or diverged: the epochs done are the history
      throw;
    }
    keep(run, a);
    return history_;
  }

  size_t evaluate(const py::handle& x, const py::handle& y, const std::string& device, int threads) {
    const Users::Reader reading(users_, "evaluate()");
    const LabelledArrays data = labelled_arrays(x, y, net_.sizes.front(), net_.sizes.back(), "");
    std::unique_ptr<Backend> backend = backend_named(device, threads);
    py::gil_scoped_release nogil;
    backend->load(net_);
    return backend->evaluate(data.view()).correct;
  }

  // The output activations of every image, in float64 through the reference's feedforward (as
  // `backprop predict` computes them).
  py::array_t<double> predict(const py::handle& x) {
    const Users::Reader reading(users_, "predict()");
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
    users_.check_no_writer("save()");
    Metadata md = metadata_;
    md["written_by"] = "backprop python module";
    md["kind"] = "model";  // not resumable (train/resume.hpp)
    md.erase("next_epoch");
    md.erase("next_sample");
    save_model(path.string(), net_, md);
  }

  py::list weights() const {
    users_.check_no_writer("weights");
    py::list out;
    for (size_t l = 0; l + 1 < net_.num_layers(); ++l) out.append(weights_array(net_, l));
    return out;
  }
  py::list biases() const {
    users_.check_no_writer("biases");
    py::list out;
    for (size_t l = 0; l + 1 < net_.num_layers(); ++l) out.append(biases_array(net_, l));
    return out;
  }
  void set_weights(const py::handle& a) {
    users_.check_unused("weights");
    assign_weights(net_, a);
  }
  void set_biases(const py::handle& a) {
    users_.check_unused("biases");
    assign_biases(net_, a);
  }

  std::vector<size_t> sizes() const { return net_.sizes; }
  const Metadata& metadata() const { return metadata_; }
  const std::string& device() const { return device_; }
  py::list history() const { return history_; }

  std::string repr() const {
    return "backprop.Network([" + format_layers(net_.sizes) + "], " + std::to_string(net_.parameter_count()) +
           " parameters)";
  }

 private:
  // What a train() leaves behind, also when it raised: the epochs done, the backend, the settings.
  void keep(const TrainRun& run, const TrainArguments& a) {
    history_ = run.history;
    if (!a.resume.empty()) {  // the network is now the checkpoint's run
      init_ = run.settings.init;
      seed_ = run.settings.seed;
    }
    if (!run.device.empty()) device_ = run.device;
    metadata_ = to_metadata(run.settings);  // as `backprop train` records them (a resume: the checkpoint's)
  }

  // The trainer keeps labels as bytes.
  void check_sizes() const {
    if (net_.sizes.back() > 256)
      throw py::value_error("the output layer has " + std::to_string(net_.sizes.back()) +
                            " neurons; labels are bytes, so at most 256 classes");
  }

  Users users_;
  Network net_;
  Metadata metadata_;  // the settings of the last train(), or of the file loaded
  std::string init_ = "normal";
  uint64_t seed_ = 1;  // the default seed of the epoch shuffles: the initialisation's, as in the CLI
  std::string device_;
  py::list history_;
};

constexpr const char* kTrainDoc = R"(Mini-batch SGD as network.py runs it, through the same trainer as `backprop train`.

x: images, shape (n, pixels), uint8 (divided by 255 as the CLI's loader does) or float32/float64
   in [0, 1]. The trainer works on bytes, as for MNIST files, so float pixels are rounded to the
   nearest k/255: exact for images that were bytes, a change of at most 1/510 for others.
   C or Fortran order; a C-ordered uint8 array is used without a copy.
y: integer labels, shape (n,), each in [0, outputs).
epochs (default 30), batch (10), eta (3.0), cost ("quadratic"; "cross-entropy", "log-likelihood"),
   lmbda (lambda, 0.0), momentum (0.0), schedule ("none" or "plateau:N"), early_stop (0: never),
   expand ("none" or "shifts": square images only), shuffle_labels (False):
   `backprop train`'s --epochs, --batch, --eta, --cost, --lambda, --momentum, --schedule,
   --early-stop, --expand and --shuffle-labels, checked by the same code; schedule and early_stop
   need validation data. The output layer becomes the cost's: softmax for log-likelihood, sigmoid
   otherwise. Left as None they are those defaults, or on a resume the checkpoint's.
validation, test: optional (x, y) pairs evaluated after each epoch.
device: "auto" (the engine predicted fastest for the network and batch), "cpu", "cuda" or "reference" (float64).
engine: how the GPU trains: "auto" (predicted faster), "cublas", or "fused" (one kernel per chunk of
   steps, the network in a thread block's shared memory; small networks), as `backprop train --engine`.
threads: CPU threads (0 = all cores). seed: of the epoch shuffles; by default the seed the
   network was initialised with, as `backprop train --seed` seeds both. progress: called after each epoch with that epoch's record.
verbose: print each epoch's line and the closing summary, the lines `backprop train` prints.
checkpoint, checkpoint_every: write the run's checkpoint (the CLI's file: `backprop train --resume`
   continues it) every checkpoint_every epochs, and when Ctrl-C stops the run.
save: once the run has ended, write the model as `backprop train --save` does: the parameters of
   the best-validation epoch where there was validation, else the last (Network.save writes the
   network as it is).
resume: a checkpoint (this module's or `backprop train --checkpoint`'s) to continue exactly where
   it stopped, with its settings and parameters (this network's layers must be the checkpoint's:
   Network.load(path) makes one). Settings passed must agree with it, except epochs (in all,
   counting those before), which may go on longer. On the CPU the run is then bit-identical to
   one never interrupted.

Returns the history, one dict per epoch of this call with the fields of `backprop train --log`
(also kept as Network.history). Without resume each call starts from epoch 0 of the seed's
shuffles, as a fresh `backprop train` does. Ctrl-C stops after the chunk of minibatches in flight
and raises KeyboardInterrupt; the network keeps the parameters reached. A run whose cost or
parameters stop being finite raises ValueError naming the epoch. While train() runs the network
is its alone: another thread's (or the progress callback's) call on it raises RuntimeError;
evaluate() and predict() may run together, but keep train() and assignments out until they return.)";

}  // namespace

void bind_network(py::module_& m) {
  py::class_<PyNetwork>(m, "Network", "A fully-connected sigmoid network (network.py's Network), float32 parameters.")
      .def(py::init<const std::vector<size_t>&, const std::string&, uint64_t>(), py::arg("sizes"),
           py::arg("init") = "normal", py::arg("seed") = 1,
           "Layer sizes, input first ([784, 30, 10]); init 'normal' (N(0,1), network.py) or 'scaled' "
           "(N(0,1/n_in) weights, network2.py); the same seed gives the CLI's initial weights.")
      .def(
          "train",
          [](PyNetwork& self, const py::handle& x, const py::handle& y, std::optional<uint64_t> epochs,
             std::optional<uint64_t> batch, std::optional<double> eta, std::optional<std::string> cost,
             std::optional<double> lmbda, std::optional<double> momentum, std::optional<std::string> schedule,
             std::optional<uint64_t> early_stop, std::optional<std::string> expand, std::optional<bool> shuffle_labels,
             const py::object& validation, const py::object& test, const std::string& device, const std::string& engine,
             int threads, std::optional<uint64_t> seed, const py::object& progress, bool verbose,
             const std::optional<std::filesystem::path>& checkpoint, uint64_t checkpoint_every,
             const std::optional<std::filesystem::path>& resume, const std::optional<std::filesystem::path>& save) {
            const PyNetwork::Given g{epochs,   batch,      eta,    cost,           lmbda, momentum,
                                     schedule, early_stop, expand, shuffle_labels, seed};
            return self.train(x, y, g, validation, test, device, engine, threads, progress, verbose, checkpoint,
                              checkpoint_every, resume, save);
          },
          kTrainDoc, py::arg("x"), py::arg("y"), py::kw_only(), py::arg("epochs") = py::none(),
          py::arg("batch") = py::none(), py::arg("eta") = py::none(), py::arg("cost") = py::none(),
          py::arg("lmbda") = py::none(), py::arg("momentum") = py::none(), py::arg("schedule") = py::none(),
          py::arg("early_stop") = py::none(), py::arg("expand") = py::none(), py::arg("shuffle_labels") = py::none(),
          py::arg("validation") = py::none(), py::arg("test") = py::none(), py::arg("device") = "auto",
          py::arg("engine") = "auto", py::arg("threads") = 1, py::arg("seed") = py::none(),
          py::arg("progress") = py::none(), py::arg("verbose") = false, py::arg("checkpoint") = py::none(),
          py::arg("checkpoint_every") = 0, py::arg("resume") = py::none(), py::arg("save") = py::none())
      .def("evaluate", &PyNetwork::evaluate, "How many images the network classifies correctly (argmax of the output).",
           py::arg("x"), py::arg("y"), py::kw_only(), py::arg("device") = "auto", py::arg("threads") = 1)
      .def("predict", &PyNetwork::predict, "Output activations, shape (n, outputs), float64.", py::arg("x"))
      .def("save", &PyNetwork::save, "Write a safetensors model file, as `backprop train --save` does.",
           py::arg("path"))
      .def_static(
          "load", [](const std::filesystem::path& path) { return PyNetwork(load_model(path.string()), path.string()); },
          "Read a model or checkpoint written by the CLI or by save().", py::arg("path"))
      .def_property(
          "weights", &PyNetwork::weights, &PyNetwork::set_weights,
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
