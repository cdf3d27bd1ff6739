// The CPU implementation of the step's operation set (see step.hpp): cpu_gemm for the GEMMs and
// loops over the elementwise math that the CUDA kernels share (kernels/activations.cuh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/activations.cuh"
#include "kernels/shifts.cuh"
#include "cpu/cpu_gemm.hpp"
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_listed_images.hpp"

namespace bp {

class CpuOps {
 public:
  // cpu_gemm, or the sparse-input kernels where B is the batch gather_input listed.
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc);
  // a(n, m) = sigmoid(a + b), b broadcast along the columns.
  void bias_sigmoid(int n, int m, const float* b, float* a);
  // Each column of a(n, m) = softmax(column + b).
  void bias_softmax(int n, int m, const float* b, float* a);
  // d(n, m) = output_delta(cost, a, onehot(labels)); *cost_sum += sum of unit_cost.
  void output_delta(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d, double* cost_sum);
  // d(n, m) *= a (1 - a)
  void hidden_delta(int n, int m, const float* a, float* d);
  // c(n) = beta * c + alpha * rowsum(d(n, m)); beta == 0 ignores c's old contents.
  void add_row_sums(int n, int m, float alpha, const float* d, float beta, float* c);
  void copy(size_t n, const float* src, float* dst);
  // y(n) += alpha * x(n)
  void axpy(size_t n, float alpha, const float* x, float* y);
  // x(dim, m): column j = pixels of sample idx[j], scaled to [0, 1]; labels_out[j] = its label.
  // Samples are images unless `e` expands them into shifted copies (kernels/shifts.cuh).
  void gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
              uint8_t* labels_out, Expansion e = {});
  // gather() for the step's input batch: where the kernel path has sparse-input kernels
  // (cpu_kernels.hpp) and at most half of the pixels are nonzero, x is NOT written; instead the
  // list of its nonzero pixels stands for it, and gemm() reads that list wherever x (the same
  // pointer) is its B operand, which in the step is the first layer's forward product and weight
  // update. The list holds until the next gather or gather_input. Returns whether x was listed.
  // `lists`, where given and made for these images, supplies the samples' lists ready made.
  bool gather_input(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
                    uint8_t* labels_out, Expansion e = {}, const ListedImages* lists = nullptr);
  // Forgets gather_input's list (the memory at x is about to be reused).
  void forget_input() { listed_ = nullptr; }
  // Asks the cache for the images gather() will read next, so that their misses overlap the
  // current step's arithmetic instead of stalling the next gather.
  void prefetch(const uint8_t* pixels, size_t dim, const uint32_t* idx, int m, Expansion e = {});
  // The same for the lists gather_input will copy.
  void prefetch(const ListedImages& lists, const uint32_t* idx, int m, Expansion e = {});
  // How many columns of a(n, m) have their largest entry at the label's row.
  size_t count_correct(int n, int m, const float* a, const uint8_t* labels);
  // counts[c] += how many columns of a(n, m) have their largest entry at row c, for c < n;
  // counts[n] += how many of those rows are the label's.
  void count_predictions(int n, int m, const float* a, const uint8_t* labels, uint64_t* counts);

 private:
  bool finish_listing(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
                      uint8_t* labels_out, Expansion e, size_t end);

  // The batch gather_input listed: the matrix at listed_ as its nonzeros.
  const float* listed_ = nullptr;
  const SparseInputKernels* kernels_ = nullptr;
  SparseColumns columns_;
  std::vector<int32_t> index_, start_;
  std::vector<float> value_;
};

}  // namespace bp
