// The arrays one train() or sweep() call trains and evaluates on, held for the call, and the
// Dataset that views them (made in place: the views point into the arrays). Square images get
// their width, which expand="shifts" needs.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "data/dataset.hpp"
#include "train/run_settings.hpp"

namespace bp::python {

struct ArrayData {
  LabelledArrays train;
  std::optional<LabelledArrays> validation, test;  // from (x, y) pairs, or None
  std::vector<uint8_t> shuffled;                   // the training labels, for shuffle_labels
  Dataset data;

  // `pixels` and `classes`: the network's (checked); classes 0: 1 + the largest label given.
  ArrayData(const py::handle& x, const py::handle& y, const py::object& validation_pair, const py::object& test_pair,
            size_t pixels, size_t classes);
  ArrayData(const ArrayData&) = delete;  // the views point into the members
  ArrayData& operator=(const ArrayData&) = delete;

  // Trains on the labels permuted at random (seeded, as the CLI does).
  void shuffle_labels(uint64_t seed);

  // ValueError for what the trainer would refuse of these settings on these arrays, as the CLI
  // refuses it before any training: a minibatch larger than the `train_count` images trained on
  // (0: all), a schedule or early stop without validation data, shifts of images not square.
  void check_fits(const RunSettings& s, size_t train_count = 0) const;

  // The CLI's fingerprint of the arrays (arrays_fingerprint).
  std::string fingerprint() const;
};

}  // namespace bp::python
