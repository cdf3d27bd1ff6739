// The wording of cuda_status()'s reason, separate so that it can be tested without a device.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

namespace bp {

// Why GPU 0 cannot be used, from the call that failed and its error: always the error's name and
// text, and a rebuild suggested only where the binary has no code for the GPU.
std::string device_unusable_reason(const std::string& call, cudaError_t status);

}  // namespace bp
