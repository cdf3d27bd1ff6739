// NumPy arrays in and out of the trainer's layouts. Images become the bytes the trainer reads
// (it divides by 255 where a minibatch is built, as for MNIST files); every check raises
// ValueError with one sentence naming the argument, as the CLI names the flag or file.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "model/network.hpp"

namespace bp::python {

namespace py = pybind11;

// Labelled images as the trainer reads them. A C-contiguous uint8 array is used in place (and
// kept alive here); anything else is copied once.
struct LabelledArrays {
  py::object keep;             // the uint8 array `pixels` points into, when not copied
  std::vector<uint8_t> owned;  // the copy, otherwise
  const uint8_t* pixels = nullptr;
  std::vector<uint8_t> labels;
  size_t count = 0, dim = 0;

  DataView view() const { return {pixels, labels.data(), count, dim}; }
};

// x: (n, pixels) uint8, or float32/float64 in [0, 1] (rounded to the nearest k/255: exact for
// images that were bytes); y: (n,) integers in [0, classes). `name` is the argument's name.
LabelledArrays labelled_arrays(const py::handle& x, const py::handle& y, size_t pixels, size_t classes,
                               const std::string& name);

// What a checkpoint or a sweep's records say of the data: the CLI's fingerprint
// (train/resume.hpp) of the arrays as if they were the training file (training, then validation)
// and the test file, so that load_mnist's split of MNIST fingerprints as the CLI's files do.
// `width`: the images' rows' length (0: not square, one row).
std::string arrays_fingerprint(const LabelledArrays& train, const LabelledArrays* validation,
                               const LabelledArrays* test, size_t width);

// Images alone (no labels), for predict.
LabelledArrays image_array(const py::handle& x, size_t pixels, const std::string& name);

// One layer's parameters as NumPy arrays: weights (n_out, n_in), biases (n_out,), float32 copies.
py::array_t<float> weights_array(const Network& net, size_t layer);
py::array_t<float> biases_array(const Network& net, size_t layer);

// Replaces the weights (or biases) of every layer from a sequence of arrays of the exact shapes,
// all finite; on any error the network is left unchanged.
void assign_weights(Network& net, const py::handle& arrays);
void assign_biases(Network& net, const py::handle& arrays);

}  // namespace bp::python
