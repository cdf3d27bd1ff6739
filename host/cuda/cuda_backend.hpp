// The CUDA backend's public face. In a build without the CUDA toolkit, cuda_stub.cpp provides
// these and reports that CUDA is not built in.
#pragma once

#include <memory>
#include <string>

#include "model/backend.hpp"

namespace bp {

struct CudaStatus {
  bool built = false;   // this binary has the CUDA backend
  bool usable = false;  // and a device answered
  bool emulated = false;  // the device is the CUDA emulation of the test build (-DBACKPROP_CUDA_EMU=ON)
  std::string reason;   // why not usable, one sentence
  std::string report;   // runtime/driver versions and one line per device (for `backprop info`)
  // The same, field by field, for the benchmark's JSON (empty where unknown).
  std::string runtime_version, driver_version;  // CUDA runtime and the CUDA version the driver supports
  std::string nvidia_driver;                    // the kernel driver's version, as nvidia-smi shows it
  std::string gpu_name, compute_capability;     // GPU 0
};

CudaStatus cuda_status();

// A large cuBLAS SGEMM's rate and a device-to-device copy's bandwidth (bytes read plus written),
// for the benchmark's ceilings. measured is false in builds without CUDA.
struct CudaCeilings {
  bool measured = false;
  double sgemm_gflops = 0, copy_gbps = 0;
  std::string sgemm_shape;
};
CudaCeilings measure_cuda_ceilings();

// Throws UsageError with the reason when no usable device exists. graphs = false runs every
// step eagerly (the resident path otherwise replays CUDA graphs; the tests compare the two).
std::unique_ptr<Backend> make_cuda_backend(bool streamed, bool graphs = true);

}  // namespace bp
