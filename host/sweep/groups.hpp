// Which networks of a sweep train together on the GPU: those of one shape and schedule of work
// (layers, cost, batch size, epochs, training data, momentum on or off) form a group, trained
// by one backend; eta, lambda, mu, seed, init, schedule and early stopping may differ
// within it. Pure functions of the plans, so the choice is tested without a GPU.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sweep/runner.hpp"

namespace bp::sweep {

// True when plans a and b can train in one group.
bool same_group(const Plan& a, const Plan& b);

struct Grouping {
  std::vector<std::vector<size_t>> groups;  // plan indices, each group at most `cap` long, in plan order
  std::vector<size_t> alone;                // plans trained one at a time, as `train` would
  std::string reason;                       // why some train alone (empty when none do), said once
};

// Groups of equal-key plans in order of first appearance, cut into groups of at most `cap`
// (0: no cap). A plan alone in its key trains one at a time, as `train` would (the same backend
// with K = 1).
Grouping group_plans(const std::vector<Plan>& plans, size_t cap);

// Networks of `per_network` bytes that fit in `free_bytes` keeping a tenth spare (at least 1 is
// reported as 0 when not even one fits).
size_t networks_that_fit(size_t free_bytes, size_t per_network);

}  // namespace bp::sweep
