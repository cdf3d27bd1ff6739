// The networks a sweep trains, each one's settings checked (once per setting: a million seeds of
// one setting are one check) and turned into the step's terms before any network trains. The
// command line's `backprop sweep` and Python's backprop.sweep make them here.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "data/dataset.hpp"
#include "model/backend.hpp"
#include "sweep/grid.hpp"
#include "sweep/runner.hpp"

namespace bp::sweep {

// The plans of the grid's networks `indices` (ascending), leaving out those in `done` (an earlier
// run finished them). Throws bp::UsageError naming the flag (--epochs, --eta, --layers...).
std::vector<Plan> make_plans(const Grid& grid, const std::vector<uint64_t>& indices, const Dataset& data,
                             const std::set<uint64_t>& done = {});

// Where a sweep trains: auto is decided once for all networks: a real GPU trains them together
// (K networks, not the one-network step engine_choice.hpp models), else the CPU; never the test
// build's emulated device.
Device sweep_device(Device requested);

// Networks trained at once: on the CPU `threads` (0: one per core this process may run on, which
// taskset, a container or a batch job can make fewer than the machine has), one per thread; one
// elsewhere; never more than there are networks, never none.
size_t sweep_workers(Device device, int threads, size_t networks);

}  // namespace bp::sweep
