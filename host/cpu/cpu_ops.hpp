// The CPU implementation of the step's operation set (see step.hpp): cpu_gemm for the GEMMs and
// loops over the elementwise math that the CUDA kernels share (kernels/model_math.cuh). Every op
// covers K networks: network k's operand X is X + k * strideX (a stride of 0 shares one operand),
// and the op runs the one-network loop or kernel on each in turn, so that a network's floats go
// through the same operations in the same order whatever K is (a single network is K = 1 and runs
// exactly the tuned kernels; K networks together equal K separate runs bit for bit, tested).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/cpu_gemm.hpp"
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_listed_images.hpp"
#include "kernels/model_math.cuh"
#include "kernels/shifts.cuh"

namespace bp {

class CpuOps {
 public:
  // C_k = alpha op(A_k) op(B_k) + beta C_k: cpu_gemm, or the sparse-input kernels where B_k is a
  // batch gather_input listed.
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, size_t sa, const float* B,
            int ldb, size_t sb, float beta, float* C, int ldc, size_t sc, size_t count);
  // The same with network k's own alpha[k] and beta[k].
  void gemm_scaled(bool ta, bool tb, int m, int n, int k, const float* alpha, const float* A, int lda, size_t sa,
                   const float* B, int ldb, size_t sb, const float* beta, float* C, int ldc, size_t sc, size_t count);
  // a_k(n, m) = sigmoid(a_k + b_k), b_k broadcast along the columns.
  void bias_sigmoid(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count);
  // Each column of a_k(n, m) = softmax(column + b_k).
  void bias_softmax(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count);
  // d_k(n, m) = output_delta(cost, a_k, onehot(labels_k)); cost_sums[k] += its sum of unit_cost.
  void output_delta(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl, float* d,
                    size_t sd, double* cost_sums, size_t count);
  // d_k(n, m) *= a_k (1 - a_k)
  void hidden_delta(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count);
  // c_k(n) = beta[k] c_k + alpha[k] rowsum(d_k(n, m)); beta[k] == 0 ignores c_k's old contents.
  void add_row_sums(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta, float* c, size_t sc,
                    size_t count);
  // y_k(n) += alpha[k] x_k(n)
  void axpy_scaled(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy, size_t count);
  // y(n) += alpha x(n) and y(n) = x(n), one flat run.
  void axpy(size_t n, float alpha, const float* x, float* y);
  void copy(size_t n, const float* src, float* dst);
  // Network k's batch x_k(dim, m): column j = pixels of sample idx[k * si + j], scaled to [0, 1];
  // labels_out[k * sl + j] = its label. Samples are images unless `e` expands them into shifted
  // copies (kernels/shifts.cuh).
  void gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si, int m, float* x,
              size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e = {});
  // gather() for the step's input batches: where the kernel path has sparse-input kernels
  // (cpu_kernels.hpp) and at most half of a batch's pixels are nonzero, x_k is NOT written;
  // instead the list of its nonzero pixels stands for it, and gemm() reads that list wherever x_k
  // (x with the same stride) is its B operand, which in the step is the first layer's forward
  // product and weight update. The lists hold until the next gather or gather_input. Returns how
  // many of the batches were listed. `lists`, where given and made for these images, supplies
  // the samples' lists ready made.
  size_t gather_input(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si, int m,
                      float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e = {},
                      const ListedImages* lists = nullptr);
  // Forgets gather_input's lists (the memory at x is about to be reused).
  void forget_input() { listed_ = nullptr; }
  // Asks the cache for the images gather() will read next (one network's batch), so that their
  // misses overlap the current step's arithmetic instead of stalling the next gather.
  void prefetch(const uint8_t* pixels, size_t dim, const uint32_t* idx, int m, Expansion e = {});
  // The same for the lists gather_input will copy.
  void prefetch(const ListedImages& lists, const uint32_t* idx, int m, Expansion e = {});
  // How many columns of a(n, m) have their largest entry at the label's row.
  size_t count_correct(int n, int m, const float* a, const uint8_t* labels);
  // counts[k * (n + 1) + c] += how many columns of a_k(n, m) have their largest entry at row c,
  // for c < n; counts[k * (n + 1) + n] += how many of those rows are the label's (labels shared).
  void count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels, uint64_t* counts,
                         size_t count);

 private:
  // One network's batch as the list of its nonzero pixels (sparse), or written out densely.
  struct Listing {
    bool sparse = false;
    SparseColumns columns;
    std::vector<int32_t> index, start;
    std::vector<float> value;
  };
  bool list_one(Listing& L, const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m,
                float* x, uint8_t* labels_out, Expansion e, const ListedImages* lists);
  // The list standing for operand p + k * stride, if gather_input listed it.
  const SparseColumns* listed(const float* p, size_t stride, size_t k) const;
  void gemm_one(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, size_t sa, const float* B,
                int ldb, size_t sb, float beta, float* C, int ldc, size_t net);

  // The batches gather_input listed: x_k = listed_ + k * listed_stride_, k < listings_ in use.
  const float* listed_ = nullptr;
  size_t listed_stride_ = 0, listed_count_ = 0;
  const SparseInputKernels* kernels_ = nullptr;
  std::vector<Listing> listings_;
};

}  // namespace bp
