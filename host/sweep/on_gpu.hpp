// A sweep on the GPU: the networks of one shape (sweep/groups.hpp) trained together, each group
// as large as the caller's cap and the device's free memory allow, on the engine chosen for its
// shape and mini-batch; a network with no partner alone, as `train` would train it.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "sweep/runner.hpp"
#include "train/backend_factory.hpp"

namespace bp::sweep {

// Trains every plan; `group_size` caps a group (0: as many as fit). `say` receives each line
// worth telling the user (the groups, each engine chosen, why some train alone). Returns false
// when stopped before all finished. Throws bp::Error before any training when one network does
// not fit in device memory, or `engine` is fused and some shape does not fit its thread block.
bool run_on_gpu(std::vector<Plan>& plans, const Dataset& data, const RunnerOptions& options, GpuEngine engine,
                size_t group_size, const OnEpoch& on_epoch, const OnNetwork& on_network,
                const std::function<void(const std::string& line)>& say);

}  // namespace bp::sweep
