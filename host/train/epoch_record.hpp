// One epoch's report as the JSON object of `backprop train --log`, the same record that Python's
// Network.train returns per epoch and `backprop sweep --log` extends.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "train/trainer.hpp"

namespace bp {

nlohmann::json epoch_record(const EpochReport& r);

// Whether the file at `path` is such a log: empty, or its first line (read up to 1 MiB) one of
// these records. A resumed run appends to its log, and never to a file that is something else.
bool is_epoch_log(const std::string& path);

}  // namespace bp
