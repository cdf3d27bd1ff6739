// `import backprop`: the module's functions (devices, load_mnist, gradcheck, sweep: sweep.cpp),
// the Network class (network.cpp), and the library's errors as Python exceptions: a usage error (bad argument,
// missing file) is a ValueError, any other bp::Error (malformed file, device failure) a
// RuntimeError, each with the CLI's one-sentence message.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstring>
#include <filesystem>
#include <optional>

#include "arrays.hpp"
#include "base/error.hpp"
#include "cuda/cuda_backend.hpp"
#include "data/dataset.hpp"
#include "network.hpp"
#include "settings.hpp"
#include "sweep.hpp"
#include "train/gradcheck.hpp"

namespace bp::python {
namespace {

py::list devices() {
  py::list out;
  out.append("cpu");
  if (cuda_status().usable) out.append("cuda");
  out.append("reference");
  return out;
}

py::dict cuda_info() {
  const CudaStatus s = cuda_status();
  py::dict d;
  d["built"] = s.built;
  d["usable"] = s.usable;
  d["reason"] = s.reason;
  d["report"] = s.report;
  return d;
}

// One split of a data set as (x uint8 (n, pixels), y int64 (n,)).
py::tuple split_arrays(const DataView& v) {
  py::array_t<uint8_t> x({py::ssize_t(v.count), py::ssize_t(v.dim)});
  std::memcpy(x.mutable_data(), v.pixels, v.count * v.dim);
  py::array_t<int64_t> y(py::ssize_t(v.count));
  for (size_t i = 0; i < v.count; ++i) y.mutable_data()[i] = v.labels[i];
  return py::make_tuple(x, y);
}

py::tuple load_mnist(const std::optional<std::filesystem::path>& dir, std::optional<size_t> train_size,
                     std::optional<size_t> validation_size) {
  Dataset d;
  {
    py::gil_scoped_release nogil;
    d = load_dataset(dir ? dir->string() : default_data_dir(), {train_size, validation_size});
  }
  return py::make_tuple(split_arrays(d.train), split_arrays(d.validation), split_arrays(d.test));
}

py::dict gradcheck_py(const std::vector<size_t>& sizes, const std::string& cost, double lmbda, const std::string& init,
                      uint64_t seed, size_t batch, size_t params, const py::object& x, const py::object& y,
                      const std::optional<std::vector<std::string>>& devices, int threads) {
  GradcheckOptions o;
  o.sizes = zero_network(sizes).sizes;  // checks the sizes
  RunSettings s;                        // eta is the CLI's default: it is no part of a gradient
  s.cost = cost;
  s.lambda = lmbda;
  s.batch_size = batch;
  o.hyper = hyper_of(s);
  o.init = init_named(init);
  o.seed = seed;
  o.batch_size = batch;
  o.sampled = params;
  if (threads < 0) throw py::value_error("threads must be >= 0, got " + std::to_string(threads));
  o.threads = threads;
  o.devices = devices.value_or(gradcheck_devices());
  LabelledImages random;
  LabelledArrays given;
  DataView data;
  if (x.is_none() != y.is_none()) throw py::value_error("gradcheck needs both x and y, or neither (random images)");
  if (x.is_none()) {
    random = synthetic_images(1000, sizes.front(), 1, sizes.back(), seed);  // as `backprop gradcheck` without data
    data = random.view();
  } else {
    given = labelled_arrays(x, y, sizes.front(), sizes.back(), "");
    data = given.view();
  }
  std::vector<GradcheckResult> results;
  {
    py::gil_scoped_release nogil;
    results = gradcheck(data, o);
  }
  py::list checks;
  bool passed = true;
  for (const GradcheckResult& r : results) {
    py::dict c;
    c["label"] = r.label;
    c["count"] = r.comparison.count;
    c["max_abs"] = r.comparison.max_abs;
    c["max_rel"] = r.comparison.max_rel;
    c["worst"] = r.comparison.worst;
    c["tolerance"] = r.tolerance;
    c["passed"] = r.passed();
    checks.append(c);
    passed = passed && r.passed();
  }
  py::dict out;
  out["passed"] = passed;
  out["checks"] = checks;
  return out;
}

}  // namespace
}  // namespace bp::python

PYBIND11_MODULE(backprop, m) {
  namespace py = pybind11;
  using namespace bp::python;
  m.doc() = "Nielsen's sigmoid networks trained by backprop's C++/CUDA trainer, from NumPy arrays.";
  m.attr("__version__") = BACKPROP_VERSION;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const bp::UsageError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const bp::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  bind_network(m);
  bind_sweep(m);
  m.def("devices", &devices,
        "The backends this machine can train on: 'cpu', 'cuda' where a GPU is usable, 'reference'.");
  m.def("cuda_status", &cuda_info, "Whether this build has CUDA, whether a device answered, and why not.");
  m.def("load_mnist", &load_mnist,
        "MNIST-format IDX files (raw or .gz) from `dir` (default $BACKPROP_DATA or data/mnist), split as the CLI "
        "splits them: ((x_train, y_train), (x_validation, y_validation), (x_test, y_test)), images uint8 (n, "
        "pixels), labels int64. By default the first 5/6 of the training file train and the last 1/6 validate "
        "(50,000 and 10,000 for MNIST).",
        py::arg("dir") = py::none(), py::kw_only(), py::arg("train_size") = py::none(),
        py::arg("validation_size") = py::none());
  m.def("gradcheck", &gradcheck_py,
        "`backprop gradcheck`: the float64 reference gradient against finite differences on `params` parameters "
        "(0 = all), then each device's gradient against the reference, on one seeded minibatch of (x, y) or of "
        "random images. Returns {'passed': bool, 'checks': [{label, count, max_abs, max_rel, worst, tolerance, "
        "passed}]}.",
        py::arg("sizes") = std::vector<size_t>{784, 30, 10}, py::kw_only(), py::arg("cost") = "quadratic",
        py::arg("lmbda") = 0.0, py::arg("init") = "normal", py::arg("seed") = 1, py::arg("batch") = 10,
        py::arg("params") = 300, py::arg("x") = py::none(), py::arg("y") = py::none(), py::arg("devices") = py::none(),
        py::arg("threads") = 1);
}
