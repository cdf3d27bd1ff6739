// See arrays.hpp.
#include "arrays.hpp"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "train/resume.hpp"

namespace bp::python {
namespace {

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

py::array as_array(const py::handle& h, const std::string& name) {
  if (!py::isinstance<py::array>(h) &&
      (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h)))
    throw py::value_error(name + " must be a NumPy array, got " + py::str(py::type::of(h)).cast<std::string>());
  return py::array::ensure(h);
}

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Float images (n, dim) in [0, 1] to bytes: round(x * 255), refusing non-finite or out-of-range
// values. Reads through the strides, so either order is converted in this one pass.
template <typename T>
void float_to_bytes(const py::array& a, std::vector<uint8_t>& out, const std::string& name) {
  const auto typed = py::array_t<T, py::array::forcecast>::ensure(a);  // a copy only for a foreign byte order
  const auto x = typed.template unchecked<2>();
  const size_t n = size_t(x.shape(0)), dim = size_t(x.shape(1));
  out.resize(n * dim);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < dim; ++j) {
      const T v = x(py::ssize_t(i), py::ssize_t(j));
      if (!std::isfinite(v) || v < T(0) || v > T(1)) {
        throw py::value_error(name + ": pixel values must be finite and in [0, 1], got " + std::to_string(double(v)) +
                              " at [" + std::to_string(i) + ", " + std::to_string(j) + "]");
      }
      out[i * dim + j] = uint8_t(std::lround(double(v) * 255.0));
    }
  }
}

void images_into(LabelledArrays& out, const py::handle& x, size_t pixels, const std::string& name) {
  const py::array a = as_array(x, name);
  if (a.ndim() != 2 || size_t(a.shape(1)) != pixels) {
    throw py::value_error(name + " must have shape (n, " + std::to_string(pixels) + ") for the network's " +
                          std::to_string(pixels) + " inputs, got " + shape_text(a));
  }
  if (a.shape(0) == 0) throw py::value_error(name + " holds no images");
  out.count = size_t(a.shape(0));
  out.dim = pixels;
  const char kind = a.dtype().kind();
  if (py::isinstance<py::array_t<uint8_t>>(a)) {
    const auto c = py::array_t<uint8_t, py::array::c_style>::ensure(a);  // copies only if not C-contiguous
    out.keep = c;
    out.pixels = c.data();
    return;
  }
  if (kind == 'f' && a.itemsize() == 4) {
    float_to_bytes<float>(a, out.owned, name);
  } else if (kind == 'f' && a.itemsize() == 8) {
    float_to_bytes<double>(a, out.owned, name);
  } else {
    throw py::value_error(name + " must be uint8 (0-255) or float32/float64 in [0, 1], got " + dtype_name(a));
  }
  out.pixels = out.owned.data();
}

void labels_into(LabelledArrays& out, const py::handle& y, size_t classes, const std::string& name) {
  const py::array a = as_array(y, name);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u') throw py::value_error(name + " must be integer labels, got " + dtype_name(a));
  if (a.ndim() != 1 || size_t(a.shape(0)) != out.count) {
    throw py::value_error(name + " must have shape (" + std::to_string(out.count) + ",), one label per image, got " +
                          shape_text(a));
  }
  out.labels.resize(out.count);
  const auto check = [&](auto v, size_t i) {  // the label as the array holds it, signed or not
    bool negative = false;
    if constexpr (std::is_signed_v<decltype(v)>) negative = v < 0;
    if (negative || uint64_t(v) >= classes) {
      throw py::value_error(name + ": labels must be in [0, " + std::to_string(classes) + ") for the network's " +
                            std::to_string(classes) + " outputs, got " + std::to_string(v) + " at [" +
                            std::to_string(i) + "]");
    }
    out.labels[i] = uint8_t(v);
  };
  // Unsigned labels are read as uint64 (2^64-1 as int64 would be reported as -1).
  if (kind == 'u') {
    const auto c = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    for (size_t i = 0; i < out.count; ++i) check(c.data()[i], i);
  } else {
    const auto c = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    for (size_t i = 0; i < out.count; ++i) check(c.data()[i], i);
  }
}

// The arrays of one layer-by-layer sequence, converted to float32 and checked against `shape`.
std::vector<std::vector<float>> checked_layers(const Network& net, const py::handle& arrays, bool weights) {
  const char* what = weights ? "weights" : "biases";
  if (!py::isinstance<py::sequence>(arrays) || py::isinstance<py::str>(arrays))
    throw py::value_error(std::string(what) + " must be a list of NumPy arrays, one per layer");
  const py::sequence seq = py::reinterpret_borrow<py::sequence>(arrays);
  const size_t layers = net.num_layers() - 1;
  if (seq.size() != layers) {
    throw py::value_error(std::string(what) + ": the network has " + std::to_string(layers) + " layers of " + what +
                          ", got " + std::to_string(seq.size()) + " arrays");
  }
  std::vector<std::vector<float>> out(layers);
  for (size_t l = 0; l < layers; ++l) {
    const std::string name = std::string(what) + "[" + std::to_string(l) + "]";
    const py::array a = as_array(seq[l], name);
    const char kind = a.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u')
      throw py::value_error(name + " must be numbers, got " + dtype_name(a));
    const size_t rows = net.sizes[l + 1], cols = net.sizes[l];
    const bool ok = weights ? a.ndim() == 2 && size_t(a.shape(0)) == rows && size_t(a.shape(1)) == cols
                            : a.ndim() == 1 && size_t(a.shape(0)) == rows;
    if (!ok) {
      throw py::value_error(name + " must have shape (" + std::to_string(rows) +
                            (weights ? ", " + std::to_string(cols) + ")" : ",)") + ", got " + shape_text(a));
    }
    // Fortran order is the network's column-major layout, so the copy is a plain one.
    const auto f = py::array_t<float, py::array::f_style | py::array::forcecast>::ensure(a);
    out[l].assign(f.data(), f.data() + f.size());
    for (size_t i = 0; i < out[l].size(); ++i) {
      if (!std::isfinite(out[l][i])) {
        throw py::value_error(name + " must be finite, got " + std::to_string(out[l][i]) + " at [" +
                              std::to_string(i % rows) + (weights ? ", " + std::to_string(i / rows) : "") + "]");
      }
    }
  }
  return out;
}

}  // namespace

LabelledArrays labelled_arrays(const py::handle& x, const py::handle& y, size_t pixels, size_t classes,
                               const std::string& name) {
  LabelledArrays out;
  images_into(out, x, pixels, "x" + name);
  labels_into(out, y, classes, "y" + name);
  return out;
}

LabelledArrays image_array(const py::handle& x, size_t pixels, const std::string& name) {
  LabelledArrays out;
  images_into(out, x, pixels, name);
  return out;
}

py::array_t<float> weights_array(const Network& net, size_t l) {
  const py::ssize_t rows = py::ssize_t(net.sizes[l + 1]), cols = py::ssize_t(net.sizes[l]);
  py::array_t<float, py::array::f_style> a({rows, cols});
  std::memcpy(a.mutable_data(), net.weights[l].data(), net.weights[l].size() * sizeof(float));
  return a;
}

py::array_t<float> biases_array(const Network& net, size_t l) {
  py::array_t<float> a(py::ssize_t(net.biases[l].size()));
  std::memcpy(a.mutable_data(), net.biases[l].data(), net.biases[l].size() * sizeof(float));
  return a;
}

void assign_weights(Network& net, const py::handle& arrays) { net.weights = checked_layers(net, arrays, true); }
void assign_biases(Network& net, const py::handle& arrays) { net.biases = checked_layers(net, arrays, false); }

std::string arrays_fingerprint(const LabelledArrays& train, const LabelledArrays* validation,
                               const LabelledArrays* test, size_t width) {
  std::vector<DataView> training = {train.view()};
  if (validation) training.push_back(validation->view());
  return data_fingerprint(training, test ? test->view() : DataView{}, width ? train.dim / width : 1,
                          width ? width : train.dim);
}

}  // namespace bp::python
