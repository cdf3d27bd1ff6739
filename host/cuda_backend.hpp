// The CUDA backend's public face. In a build without the CUDA toolkit, cuda_stub.cpp provides
// these and reports that CUDA is not built in.
#pragma once

#include <memory>
#include <string>

#include "backend.hpp"

namespace bp {

struct CudaStatus {
  bool built = false;   // this binary has the CUDA backend
  bool usable = false;  // and a device answered
  std::string reason;   // why not usable, one sentence
  std::string report;   // runtime/driver versions and one line per device (for `backprop info`)
};

CudaStatus cuda_status();

// Throws UsageError with the reason when no usable device exists.
std::unique_ptr<Backend> make_cuda_backend(bool streamed);

}  // namespace bp
