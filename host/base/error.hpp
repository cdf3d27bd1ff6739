// The two kinds of failure the tool reports: a usage error (bad flag, missing file; exit 2) and
// any other error (malformed data, device failure; exit 1). Both carry one complete sentence.
#pragma once

#include <stdexcept>
#include <string>

namespace bp {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct UsageError : Error {
  using Error::Error;
};

}  // namespace bp
