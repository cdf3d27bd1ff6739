// One epoch's report as the JSON object of `backprop train --log`, the same record that Python's
// Network.train returns per epoch and `backprop sweep --log` extends.
#pragma once

#include <nlohmann/json.hpp>

#include "train/trainer.hpp"

namespace bp {

nlohmann::json epoch_record(const EpochReport& r);

}  // namespace bp
