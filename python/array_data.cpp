// See array_data.hpp.
#include "array_data.hpp"

#include <algorithm>
#include <cmath>

namespace bp::python {
namespace {

// A (x, y) pair given as validation= or test=, or None.
std::optional<LabelledArrays> optional_pair(const py::object& pair, size_t pixels, size_t classes,
                                            const std::string& name) {
  if (pair.is_none()) return std::nullopt;
  if (!py::isinstance<py::tuple>(pair) && !py::isinstance<py::list>(pair))
    throw py::value_error(name + " must be a pair (x, y) of arrays or None");
  const py::sequence s = py::reinterpret_borrow<py::sequence>(pair);
  if (s.size() != 2) throw py::value_error(name + " must be a pair (x, y) of arrays or None");
  return labelled_arrays(s[0], s[1], pixels, classes, "_" + name);
}

}  // namespace

ArrayData::ArrayData(const py::handle& x, const py::handle& y, const py::object& validation_pair,
                     const py::object& test_pair, size_t pixels, size_t classes)
    : train(labelled_arrays(x, y, pixels, classes ? classes : 256, "")),
      validation(optional_pair(validation_pair, pixels, classes ? classes : 256, "validation")),
      test(optional_pair(test_pair, pixels, classes ? classes : 256, "test")) {
  data.train = train.view();
  const size_t side = size_t(std::lround(std::sqrt(double(train.dim))));
  if (side * side == train.dim) data.train.width = side;
  if (validation) data.validation = validation->view();
  if (test) data.test = test->view();
  if (classes == 0)  // labels are bytes: 256 bounds them
    for (const LabelledArrays* a : {&train, validation ? &*validation : nullptr, test ? &*test : nullptr})
      if (a)
        for (uint8_t label : a->labels) classes = std::max<size_t>(classes, size_t(label) + 1);
  data.classes = classes;
}

void ArrayData::shuffle_labels(uint64_t seed) {
  shuffled = shuffled_labels(data.train, seed);
  data.train.labels = shuffled.data();
}

void ArrayData::check_fits(const RunSettings& s, size_t train_count) const {
  const size_t count = train_count ? train_count : train.count;
  if (s.batch_size > count)  // as the CLI refuses it, before any workspace is sized by it
    throw py::value_error("batch " + std::to_string(s.batch_size) + " exceeds the " + std::to_string(count) +
                          " training images");
  if ((s.schedule != "none" || s.early_stop > 0) && !validation)
    throw py::value_error("schedule and early_stop need validation data: pass validation=(x, y)");
  if (s.expand == "shifts" && data.train.width == 0)
    throw py::value_error("expand='shifts' needs square images (" + std::to_string(train.dim) +
                          " pixels is not a whole number squared)");
}

std::string ArrayData::fingerprint() const {
  return arrays_fingerprint(train, validation ? &*validation : nullptr, test ? &*test : nullptr, data.train.width);
}

}  // namespace bp::python
