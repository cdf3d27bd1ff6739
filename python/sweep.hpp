// backprop.sweep(): `backprop sweep` from NumPy arrays. Each keyword names a swept flag and takes a
// value or a list of values, parsed and checked by the CLI's grid code (sweep/grid.hpp); the
// networks are planned and trained by the CLI's sweep code (sweep/plans.hpp, sweep/runner.hpp,
// sweep/on_gpu.hpp), and each finished network is one record with the fields of the CLI's sweep
// --log (its last epoch's line) and its history.
#pragma once

#include <pybind11/pybind11.h>

namespace bp::python {

void bind_sweep(pybind11::module_& m);

}  // namespace bp::python
