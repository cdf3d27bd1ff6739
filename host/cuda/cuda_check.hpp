// Status checks for the CUDA runtime and cuBLAS: any failure becomes a bp::Error naming the
// call, the error and file:line. Out-of-memory gets its own, actionable wording.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "base/error.hpp"

namespace bp {

struct CudaError : Error {
  using Error::Error;
};

inline void cuda_check(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  std::string what = std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")";
  if (status == cudaErrorMemoryAllocation)
    what = "out of device memory: try a smaller --batch or network, or --streamed";
  throw CudaError("CUDA: " + what + " in " + call + " at " + file + ":" + std::to_string(line));
}

inline void cublas_check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw CudaError(std::string("cuBLAS: ") + cublasGetStatusName(status) + " (" + cublasGetStatusString(status) +
                  ") in " + call + " at " + file + ":" + std::to_string(line));
}

}  // namespace bp

#define BP_CUDA_CHECK(call) ::bp::cuda_check((call), #call, __FILE__, __LINE__)
#define BP_CUBLAS_CHECK(call) ::bp::cublas_check((call), #call, __FILE__, __LINE__)
