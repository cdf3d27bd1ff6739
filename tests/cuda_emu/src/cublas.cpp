// cuBLAS on the emulated device, written from the cuBLAS Library User Guide's definitions
// (column-major; op(X) = X or X^T): each routine checks its arguments as the guide's "Return
// Value" table says, then queues its work on the handle's stream like a kernel, so it is ordered,
// captured and replayed as the real library's kernels are.
//
// The products sum their k terms from the last to the first, with fused multiply-adds: on
// purpose another order than BLIS's (first to last, in blocks), so that tests comparing the GPU
// with the CPU exercise their tolerances instead of matching by accident.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>

#include "cublas_v2.h"
#include "internal.hpp"

struct cublasContext {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;  // null: the library's default pool
  size_t workspace_bytes = 0;
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
};

using namespace bp::emu;

namespace {

cublasStatus_t fail(cublasStatus_t status, const std::string& message) {
  std::cerr << "CUDA emulation: cuBLAS " << cublasGetStatusName(status) << ": " << message << "\n";
  return status;
}

// A matrix of rows x cols at leading dimension ld, `count` of them `stride` floats apart, inside
// one device allocation; its use is recorded for the check at run time.
bool device_matrix(const float* p, long long rows, long long cols, long long ld, long long stride, long long count,
                   const char* name, std::vector<Use>& uses) {
  if (rows == 0 || cols == 0 || count == 0) return true;
  const long long span = (cols - 1) * ld + rows + (count - 1) * (stride < 0 ? 0 : stride);
  const Allocation* a = stride < 0 ? nullptr : device_range(p, size_t(span) * sizeof(float));
  if (!a) return false;
  uses.push_back({p, a->id, name});
  return true;
}

// alpha and beta as the pointer mode says: host values now, or device values when the work runs.
struct Scalar {
  float value = 0;
  const float* device = nullptr;
  float get() const { return device ? *device : value; }
};

bool scalar(const cublasContext& h, const float* p, Scalar& out, std::vector<Use>& uses) {
  if (h.pointer_mode == CUBLAS_POINTER_MODE_HOST) {
    out.value = *p;
    return true;
  }
  const Allocation* a = device_range(p, sizeof(float));
  if (!a) return false;
  out.device = p;
  uses.push_back({p, a->id, "a scalar"});
  return true;
}

// C(m, n) = alpha op(A) op(B) + beta C; C is not read when beta == 0 (cublas<t>gemm: "if beta ==
// 0 then C does not have to be a valid input"). Not instrumented by ASan (the emulated GEMMs were
// most of the sanitizer build's GPU test time): every operand's extent was checked against its
// device allocation before the work was queued, and again that it is still allocated when it runs.
#if defined(__SANITIZE_ADDRESS__) || defined(__clang__)
__attribute__((no_sanitize("address")))
#endif
void gemm_one(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
              float beta, float* C, int ldc) {
  std::vector<float> acc(static_cast<size_t>(m), 0.0f);
  for (int j = 0; j < n; ++j) {
    const auto b = [&](int p) { return tb ? B[j + size_t(p) * ldb] : B[p + size_t(j) * ldb]; };
    if (!ta) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int p = k - 1; p >= 0; --p) {
        const float bp = b(p);
        const float* a = A + size_t(p) * lda;
        for (int i = 0; i < m; ++i) acc[i] = std::fma(a[i], bp, acc[i]);
      }
    } else {
      for (int i = 0; i < m; ++i) {
        const float* a = A + size_t(i) * lda;
        float sum = 0;
        for (int p = k - 1; p >= 0; --p) sum = std::fma(a[p], b(p), sum);
        acc[i] = sum;
      }
    }
    float* c = C + size_t(j) * ldc;
    for (int i = 0; i < m; ++i) c[i] = beta == 0.0f ? alpha * acc[i] : alpha * acc[i] + beta * c[i];
  }
}

cublasStatus_t queue(cublasContext* h, const char* call, std::vector<Use> uses, std::function<void()> body) {
  Device& d = device();
  const std::shared_ptr<Stream> s = stream_of(h->stream);
  if (!s) return fail(CUBLAS_STATUS_EXECUTION_FAILED, std::string(call) + ": the handle's stream no longer exists");
  if (h->workspace) {
    const Allocation* a = device_range(h->workspace, h->workspace_bytes);
    if (!a) return fail(CUBLAS_STATUS_EXECUTION_FAILED, std::string(call) + ": the handle's workspace was freed");
    uses.push_back({h->workspace, a->id, "the handle's workspace"});
  }
  Work w;
  w.what = call;
  w.uses = std::move(uses);
  w.body = std::move(body);
  w.is_kernel = true;
  enqueue(*s, std::move(w));
  return d.sticky == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

bool is_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T; }  // no complex: C is T

}  // namespace

#define BP_EMU_BLAS_ENTER(h)                      \
  Device& d = device();                           \
  std::lock_guard guard(d.lock);                  \
  if (!(h)) return CUBLAS_STATUS_NOT_INITIALIZED; \
  if (d.sticky != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

// "cublasDestroy() ... implicitly calls cublasDeviceSynchronize()": the device's queued work
// runs first. The handle goes whatever the device's state.
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  Device& d = device();
  std::lock_guard guard(d.lock);
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (d.sticky == cudaSuccess) run_all();
  const bool freed = handle->workspace && !device_range(handle->workspace, handle->workspace_bytes);
  delete handle;
  if (d.sticky != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
  if (freed)
    return fail(CUBLAS_STATUS_EXECUTION_FAILED, "cublasDestroy: the handle's workspace was freed before the handle");
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  BP_EMU_BLAS_ENTER(handle);
  if (!stream_of(stream)) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetStream: unknown stream");
  handle->stream = stream;
  handle->workspace = nullptr;  // "unconditionally resets the cuBLAS library workspace back to the default pool"
  handle->workspace_bytes = 0;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t bytes) {
  BP_EMU_BLAS_ENTER(handle);
  if (workspace && reinterpret_cast<uintptr_t>(workspace) % 256 != 0)
    return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace: the workspace is not aligned to 256 bytes");
  if (workspace && !device_range(workspace, bytes))
    return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace: the workspace is not device memory of that size");
  handle->workspace = workspace;
  handle->workspace_bytes = bytes;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode(cublasHandle_t handle, cublasPointerMode_t mode) {
  BP_EMU_BLAS_ENTER(handle);
  if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE) return CUBLAS_STATUS_INVALID_VALUE;
  handle->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  BP_EMU_BLAS_ENTER(handle);
  if (mode != CUBLAS_DEFAULT_MATH)
    return fail(CUBLAS_STATUS_NOT_SUPPORTED, "cublasSetMathMode: only CUBLAS_DEFAULT_MATH is emulated");
  return CUBLAS_STATUS_SUCCESS;  // the only mode emulated, and the default
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return cublasGetStatusName(status);
  }
}

// y = alpha x + y over n elements, strides incx and incy (negative: from the far end, as BLAS).
cublasStatus_t cublasSaxpy_64(cublasHandle_t handle, int64_t n, const float* alpha, const float* x, int64_t incx,
                              float* y, int64_t incy) {
  BP_EMU_BLAS_ENTER(handle);
  if (!alpha) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSaxpy: alpha is null");
  if (n <= 0) return CUBLAS_STATUS_SUCCESS;
  std::vector<Use> uses;
  Scalar a;
  const long long ax = incx < 0 ? -incx : incx, ay = incy < 0 ? -incy : incy;
  if (!scalar(*handle, alpha, a, uses) || !device_matrix(x, 1, n, ax, 0, 1, "x", uses) ||
      !device_matrix(y, 1, n, ay, 0, 1, "y", uses)) {
    bp::emu::device_fault(cudaErrorIllegalAddress, "cublasSaxpy: x, y or alpha is not device memory of the size given");
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  return queue(handle, "cublasSaxpy", std::move(uses), [=] {
    const float s = a.get();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t xi = incx < 0 ? (n - 1 - i) * ax : i * incx, yi = incy < 0 ? (n - 1 - i) * ay : i * incy;
      y[yi] = std::fma(s, x[xi], y[yi]);
    }
  });
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const float* alpha, const float* A, int lda,
                                         long long strideA, const float* B, int ldb, long long strideB,
                                         const float* beta, float* C, int ldc, long long strideC, int batchCount) {
  BP_EMU_BLAS_ENTER(handle);
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  // The "Return Value" table of cublas<t>gemm and cublas<t>gemmStridedBatched.
  if (m < 0 || n < 0 || k < 0 || batchCount < 0 || !is_op(transa) || !is_op(transb) || lda < std::max(1, ta ? k : m) ||
      ldb < std::max(1, tb ? n : k) || ldc < std::max(1, m) || !alpha || !beta)
    return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSgemm: m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                                 " k=" + std::to_string(k) + " lda=" + std::to_string(lda) +
                                                 " ldb=" + std::to_string(ldb) + " ldc=" + std::to_string(ldc) +
                                                 " with op(A) " + (ta ? "T" : "N") + ", op(B) " + (tb ? "T" : "N"));
  if (m == 0 || n == 0 || batchCount == 0) return CUBLAS_STATUS_SUCCESS;
  std::vector<Use> uses;
  Scalar a, b;
  if (!scalar(*handle, alpha, a, uses) || !scalar(*handle, beta, b, uses) ||
      !device_matrix(A, ta ? k : m, ta ? m : k, lda, strideA, batchCount, "A", uses) ||
      !device_matrix(B, tb ? n : k, tb ? k : n, ldb, strideB, batchCount, "B", uses) ||
      !device_matrix(C, m, n, ldc, strideC, batchCount, "C", uses)) {
    bp::emu::device_fault(cudaErrorIllegalAddress,
                          "cublasSgemm: A, B, C, alpha or beta is not device memory of the size its dimensions give");
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  return queue(handle, batchCount == 1 ? "cublasSgemm" : "cublasSgemmStridedBatched", std::move(uses), [=] {
    const float av = a.get(), bv = b.get();
    for (int i = 0; i < batchCount; ++i)
      gemm_one(ta, tb, m, n, k, av, A + i * strideA, lda, B + i * strideB, ldb, bv, C + i * strideC, ldc);
  });
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                           const float* beta, float* C, int ldc) {
  return cublasSgemmStridedBatched(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
