// backprop.Network: a network's parameters with network2.py's methods (train, evaluate, predict,
// save, load), each a thin wrapper over the library the CLI uses.
#pragma once

#include <pybind11/pybind11.h>

namespace bp::python {

void bind_network(pybind11::module_& m);
}  // namespace bp::python
