// How a sweep's pictures name what they show: a swept flag on an axis ("learning rate η
// (--eta)"), what a group of settings shares (for a subtitle) and where they differ (for a legend),
// read from the settings their networks ran with.
#pragma once

#include <string>
#include <vector>

#include "sweep/summary.hpp"

namespace bp::sweep {

// An axis's name for a swept flag, with its unit where it has one; the flag itself if unknown.
std::string axis_name(const std::string& flag);

// What the networks of these settings share: "784-30-10, 10 epochs, mean over 3 seeds" (the
// shape and epochs only when all have the same).
std::string shared_description(const std::vector<const Setting*>& settings);

// For each setting, "i: " and the values of the run settings in which they differ (the seed
// aside), shortest names: "1: η 3, λ 1"; just "i" when they differ in nothing.
std::vector<std::string> differing_labels(const std::vector<const Setting*>& settings);

}  // namespace bp::sweep
