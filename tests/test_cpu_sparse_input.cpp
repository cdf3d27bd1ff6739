// CpuOps::gather_input on every kernel path: where it lists the batch's nonzero pixels instead of
// writing x, the first layer's two GEMMs read through the list must give the forward product
// within float32 rounding of float64, and the weight update the very bits of the dense rank-k
// update (same products, same order); the labels are gather()'s; plain paths and dense batches
// fall back to writing x; any other use of the listed x is refused. Shapes: MNIST's 784 pixels,
// 35 (not a whole number of vectors) with the shifted copies, tiny inputs, batches of 1 to 40,
// layers of 1 to 100 rows, beta 1 (lambda 0), beta < 1 and beta 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_gemm.hpp"
#include "cpu/cpu_listed_images.hpp"
#include "cpu/cpu_ops.hpp"
#include "cpu/cpu_path.hpp"
#include "data/dataset.hpp"

namespace bp {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Bytes with about `zeros` of them zero, like MNIST's background.
LabelledImages images_with_zeros(size_t count, size_t rows, size_t cols, double zeros, uint64_t seed) {
  LabelledImages images = synthetic_images(count, rows, cols, 10, seed);
  Rng rng(seed + 1);
  for (uint8_t& p : images.pixels)
    if (rng.uniform() < zeros) p = 0;
  return images;
}

std::vector<float> normal(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = float(rng.normal());
  return v;
}

struct SparseCase {
  size_t rows, cols;  // image shape (dim = rows * cols)
  double zeros;
  int m;  // batch
  bool shifts;
};

void check_case(const SparseCase& c, const std::string& path) {
  const LabelledImages images = images_with_zeros(60, c.rows, c.cols, c.zeros, c.rows * 7 + size_t(c.m));
  const DataView view = c.shifts ? images.view().shifted() : images.view();
  const size_t dim = view.dim;
  const int k = int(dim), m = c.m;
  std::vector<uint32_t> idx(static_cast<size_t>(m));
  Rng pick(uint64_t(m) + dim);
  for (uint32_t& i : idx) i = uint32_t(pick.below(view.samples()));
  const std::string what = path + " dim " + std::to_string(dim) + " m " + std::to_string(m) + " zeros " +
                           std::to_string(c.zeros) + (c.shifts ? " shifted" : "");

  CpuOps dense_ops, ops;
  std::vector<float> x(dim * size_t(m));
  std::vector<uint8_t> labels(static_cast<size_t>(m)), labels_listed(static_cast<size_t>(m));
  dense_ops.gather(view.pixels, view.labels, dim, idx.data(), 0, m, x.data(), 0, labels.data(), 0, 1, view.expansion());
  std::vector<float> x_listed(x.size(), kNaN);
  const bool listed = ops.gather_input(view.pixels, view.labels, dim, idx.data(), 0, m, x_listed.data(), 0,
                                       labels_listed.data(), 0, 1, view.expansion()) == 1;
  EXPECT_EQ(labels_listed, labels) << what;
  size_t nonzeros = 0;
  for (float v : x) nonzeros += v != 0.0f;
  const bool can_list = path != "plain" && double(nonzeros) <= 0.5 * double(x.size());
  EXPECT_EQ(listed, can_list) << what;
  for (size_t i = 0; i < x.size(); ++i) {
    if (listed)
      ASSERT_TRUE(std::isnan(x_listed[i])) << what << ": a listed x was written at " << i;
    else
      ASSERT_EQ(x_listed[i], x[i]) << what << ": the dense fallback differs from gather at " << i;
  }

  for (int n_out : {1, 15, 30, 100}) {
    const std::vector<float> W = normal(size_t(n_out) * k, uint64_t(n_out)), D = normal(size_t(n_out) * m, 3);
    // Forward: Z = alpha W x + beta Z against float64, within the float32 rounding bound.
    for (float beta : {0.0f, 0.5f}) {
      const std::vector<float> z0 = normal(size_t(n_out) * m, 4);
      std::vector<float> z = z0;
      if (beta == 0.0f) z.assign(z.size(), kNaN);
      ops.gemm(false, false, n_out, m, k, 0.7f, W.data(), n_out, 0, x_listed.data(), k, 0, beta, z.data(), n_out, 0, 1);
      for (int j = 0; j < m; ++j) {
        for (int i = 0; i < n_out; ++i) {
          double sum = 0, magnitude = 0;
          for (int p = 0; p < k; ++p) {
            const double t = double(W[i + size_t(p) * n_out]) * x[p + size_t(j) * dim];
            sum += t;
            magnitude += std::abs(t);
          }
          const double old = beta * double(z0[i + size_t(j) * n_out]);
          const double want = 0.7 * sum + old;
          const double bound = 4 * std::sqrt(k + 1.0) * 0x1p-23 * (0.7 * magnitude + std::abs(old)) + 1e-30;
          ASSERT_LE(std::abs(z[i + size_t(j) * n_out] - want), bound)
              << what << " forward rows " << n_out << " beta " << beta << " at (" << i << ", " << j << ")";
        }
      }
    }
    // Update: W = beta W + alpha D x^T, bit for bit the dense rank-k kernel's (batches up to 12)
    // or within float32 rounding of float64 (larger batches go to other kernels).
    for (float beta : {1.0f, 0.99f, 0.0f}) {
      std::vector<float> got = W, want = W;
      ops.gemm(false, true, n_out, k, m, -0.3f, D.data(), n_out, 0, x_listed.data(), k, 0, beta, got.data(), n_out, 0,
               1);
      cpu_gemm(false, true, n_out, k, m, -0.3f, D.data(), n_out, x.data(), k, beta, want.data(), n_out);
      for (size_t i = 0; i < got.size(); ++i) {
        if (m <= 12 && path != "plain") {
          ASSERT_EQ(got[i], want[i]) << what << " update rows " << n_out << " beta " << beta << " at " << i;
        } else {
          const int row = int(i % size_t(n_out)), col = int(i / size_t(n_out));
          double sum = 0, magnitude = std::abs(beta * double(W[i]));
          for (int j = 0; j < m; ++j) {
            const double t = double(D[row + size_t(j) * n_out]) * x[col + size_t(j) * dim];
            sum += t;
            magnitude += 0.3 * std::abs(t);
          }
          const double exact = beta * double(W[i]) - 0.3 * sum;
          ASSERT_LE(std::abs(got[i] - exact), 4 * std::sqrt(m + 1.0) * 0x1p-23 * magnitude + 1e-30)
              << what << " update rows " << n_out << " beta " << beta << " at " << i;
        }
      }
    }
  }
  if (listed) {  // a listed x serves only as B of those two products
    std::vector<float> out(size_t(k) * k);
    EXPECT_THROW(
        ops.gemm(true, false, k, m, k, 1.0f, x_listed.data(), k, 0, x_listed.data(), k, 0, 0.0f, out.data(), k, 0, 1),
        Error);
    EXPECT_THROW(
        ops.gemm(false, false, k, 1, m, 1.0f, x_listed.data(), k, 0, x_listed.data(), k, 0, 0.0f, out.data(), k, 0, 1),
        Error);
  }
}

TEST(CpuSparseInput, ListedBatchGivesTheDenseProductsOnEveryPath) {
  const std::string before = cpu_path();
  for (const std::string& path : runnable_cpu_paths()) {
    ASSERT_TRUE(set_cpu_path(path));
    for (const SparseCase& c :
         {SparseCase{28, 28, 0.8, 10, false}, SparseCase{28, 28, 0.8, 1, false}, SparseCase{28, 28, 0.8, 40, false},
          SparseCase{7, 5, 0.7, 10, true}, SparseCase{7, 5, 0.9, 3, true}, SparseCase{1, 3, 0.6, 11, false},
          SparseCase{28, 28, 0.1, 10, false}}) {
      check_case(c, path);
      if (::testing::Test::HasFatalFailure()) break;
    }
  }
  set_cpu_path(before);
}

// K networks' batches gathered in one gather_input (x_k = x + k * sx): each batch is listed or
// written on its own (here two sparse ones around a dense one), and the first layer's two GEMMs
// over all K give each network the very bits of the same ops run on its batch alone. A shared
// input (stride 0) is listed once and serves every network. A GEMM reading the listed batches with
// another stride, or more of them than were listed, is refused.
TEST(CpuSparseInput, KBatchesEachGiveTheirOwnProducts) {
  LabelledImages images = images_with_zeros(200, 28, 28, 0.8, 31);
  const LabelledImages dense = images_with_zeros(100, 28, 28, 0.1, 32);
  std::copy(dense.pixels.begin(), dense.pixels.end(), images.pixels.begin() + 100 * 784);  // images 100..199 dense
  const DataView view = images.view();
  const size_t K = 3, dim = 784, sx = dim * 10 + 32, sl = 13, n_out = 30;
  const int m = 10, k = int(dim);
  std::vector<uint32_t> idx(K * size_t(m));
  Rng pick(5);
  for (size_t net = 0; net < K; ++net)
    for (int j = 0; j < m; ++j) idx[net * size_t(m) + size_t(j)] = uint32_t(pick.below(100) + (net == 1 ? 100 : 0));
  const std::vector<float> W = normal(K * n_out * dim, 6), D = normal(K * n_out * size_t(m), 7);
  const std::string before = cpu_path();
  for (const std::string& path : runnable_cpu_paths()) {
    ASSERT_TRUE(set_cpu_path(path));
    for (const bool shared : {false, true}) {
      const std::string what = path + (shared ? ", shared input" : ", one batch per network");
      const size_t stride = shared ? 0 : sx, batches = shared ? 1 : K;
      CpuOps ops;
      std::vector<float> x(K * sx, kNaN);
      std::vector<uint8_t> labels(K * sl, 99);
      const size_t listed = ops.gather_input(view.pixels, view.labels, dim, idx.data(), shared ? 0 : size_t(m), m,
                                             x.data(), stride, labels.data(), shared ? 0 : sl, K);
      EXPECT_EQ(listed, path == "plain" ? 0u : shared ? 1u : 2u) << what;
      std::vector<float> z(K * n_out * size_t(m)), u = W;
      ops.gemm(false, false, int(n_out), m, k, 0.7f, W.data(), int(n_out), n_out * dim, x.data(), k, stride, 0.0f,
               z.data(), int(n_out), n_out * size_t(m), K);
      ops.gemm(false, true, int(n_out), k, m, -0.3f, D.data(), int(n_out), n_out * size_t(m), x.data(), k, stride, 0.9f,
               u.data(), int(n_out), n_out * dim, K);
      for (size_t net = 0; net < K; ++net) {
        // Network net alone: its batch (network 0's for a shared input) and its own operands.
        const size_t b = shared ? 0 : net;
        CpuOps alone;
        std::vector<float> x1(dim * size_t(m), kNaN), z1(n_out * size_t(m));
        std::vector<uint8_t> l1(static_cast<size_t>(m));
        alone.gather_input(view.pixels, view.labels, dim, idx.data() + b * size_t(m), 0, m, x1.data(), 0, l1.data(), 0,
                           1);
        std::vector<float> u1(W.begin() + long(net * n_out * dim), W.begin() + long((net + 1) * n_out * dim));
        alone.gemm(false, false, int(n_out), m, k, 0.7f, W.data() + net * n_out * dim, int(n_out), 0, x1.data(), k, 0,
                   0.0f, z1.data(), int(n_out), 0, 1);
        alone.gemm(false, true, int(n_out), k, m, -0.3f, D.data() + net * n_out * size_t(m), int(n_out), 0, x1.data(),
                   k, 0, 0.9f, u1.data(), int(n_out), 0, 1);
        EXPECT_TRUE(std::equal(z1.begin(), z1.end(), z.begin() + long(net * n_out * size_t(m))))
            << what << " forward " << net;
        EXPECT_TRUE(std::equal(u1.begin(), u1.end(), u.begin() + long(net * n_out * dim))) << what << " update " << net;
        if (net < batches) {
          for (int j = 0; j < m; ++j) EXPECT_EQ(labels[net * (shared ? 0 : sl) + size_t(j)], l1[size_t(j)]) << what;
        }
      }
      if (path != "plain") {
        std::vector<float> out(n_out * size_t(m) * K);
        EXPECT_THROW(ops.gemm(false, false, int(n_out), m, k, 1.0f, W.data(), int(n_out), 0, x.data(), k,
                              shared ? sx : 0, 0.0f, out.data(), int(n_out), n_out * size_t(m), K),
                     Error)
            << what << ": another stride";
        if (!shared) {
          std::vector<float> more(n_out * size_t(m) * (K + 1)), w_more(n_out * dim * (K + 1));
          EXPECT_THROW(ops.gemm(false, false, int(n_out), m, k, 1.0f, w_more.data(), int(n_out), n_out * dim, x.data(),
                                k, sx, 0.0f, more.data(), int(n_out), n_out * size_t(m), K + 1),
                       Error)
              << what << ": more batches than were listed";
        }
      }
    }
  }
  set_cpu_path(before);
}

// gather() after gather_input() writes x again, and the list no longer stands for it.
TEST(CpuSparseInput, GatherForgetsTheList) {
  const LabelledImages images = images_with_zeros(20, 28, 28, 0.8, 9);
  const std::vector<uint32_t> idx = {3, 1, 4, 1, 5};
  CpuOps ops;
  std::vector<float> x(784 * idx.size(), kNaN), z(30 * idx.size());
  std::vector<uint8_t> labels(idx.size());
  const std::vector<float> W = normal(30 * 784, 2);
  ops.gather_input(images.pixels.data(), images.labels.data(), 784, idx.data(), 0, 5, x.data(), 0, labels.data(), 0, 1);
  ops.gather(images.pixels.data(), images.labels.data(), 784, idx.data(), 0, 5, x.data(), 0, labels.data(), 0, 1);
  for (float v : x) ASSERT_FALSE(std::isnan(v));
  ops.gemm(false, false, 30, 5, 784, 1.0f, W.data(), 30, 0, x.data(), 784, 0, 0.0f, z.data(), 30, 0, 1);
  std::vector<float> want(z.size());
  cpu_gemm(false, false, 30, 5, 784, 1.0f, W.data(), 30, x.data(), 784, 0.0f, want.data(), 30);
  EXPECT_EQ(z, want);
}

}  // namespace
}  // namespace bp

namespace bp {
namespace {

std::vector<float> all_parameters(Backend& b) {
  Network n;
  b.store(n);
  std::vector<float> out;
  for (size_t l = 0; l < n.weights.size(); ++l) {
    out.insert(out.end(), n.weights[l].begin(), n.weights[l].end());
    out.insert(out.end(), n.biases[l].begin(), n.biases[l].end());
  }
  return out;
}

// Lists made once by prepare() give the very bits of lists made step by step: 300 steps (of
// plain, then of shifted samples) and the evaluation of 2,000 other images, on every path; after
// prepare({}) the backend lists again.
void check_prepared_lists(bool shifts) {
  const LabelledImages images = images_with_zeros(3000, 28, 28, 0.8, 21);
  const DataView train = shifts ? images.view().slice(0, 1000).shifted() : images.view().slice(0, 1000);
  const DataView held_out = images.view().slice(1000, 2000);
  const Network start = initialise({784, 30, 10}, Init::normal, 2);
  Hyper h;
  h.eta = 3.0;
  h.n = 1000;
  const std::vector<uint32_t> order = epoch_permutation(3, 0, train.samples());
  const std::string before = cpu_path();
  for (const std::string& path : runnable_cpu_paths()) {
    ASSERT_TRUE(set_cpu_path(path));
    auto plain = make_cpu_backend(1), prepared = make_cpu_backend(1);
    plain->load(start);
    prepared->load(start);
    const DataView views[] = {train, held_out};
    prepared->prepare(views);
    for (int pass = 0; pass < 3; ++pass) {
      EXPECT_EQ(plain->train(train, order, 10, h), prepared->train(train, order, 10, h)) << path;
      ASSERT_EQ(all_parameters(*plain), all_parameters(*prepared))
          << path << " pass " << pass << (shifts ? " shifts" : "");
      const Evaluation a = plain->evaluate(held_out), b = prepared->evaluate(held_out);
      EXPECT_EQ(a.correct, b.correct) << path;
      EXPECT_EQ(a.predicted, b.predicted) << path;
      if (pass == 1) prepared->prepare({});
    }
  }
  set_cpu_path(before);
}

TEST(CpuSparseInput, PreparedListsGiveTheSameBits) { check_prepared_lists(false); }
TEST(CpuSparseInput, PreparedListsGiveTheSameBitsForShiftedSamples) { check_prepared_lists(true); }

// Backends preparing the same images at once share one copy of their lists; other images, or
// the same ones after every holder let go, are listed afresh.
TEST(CpuSparseInput, ListsAreSharedWhileHeld) {
  if (cpu_path() == "plain") GTEST_SKIP() << "no sparse-input kernels on the plain path";
  const LabelledImages images = images_with_zeros(100, 28, 28, 0.8, 8);
  auto a = shared_list_images(images.view());
  ASSERT_TRUE(a && a->covers(images.view()));
  EXPECT_EQ(shared_list_images(images.view()).get(), a.get());
  auto part = shared_list_images(images.view().slice(0, 50));
  ASSERT_TRUE(part);
  EXPECT_NE(part.get(), a.get());
  EXPECT_TRUE(part->covers(images.view().slice(0, 50)));
  const std::vector<uint32_t> start = a->start;
  a.reset();
  auto again = shared_list_images(images.view());
  ASSERT_TRUE(again && again->covers(images.view()));
  EXPECT_EQ(again->start, start);
}

TEST(CpuSparseInput, ListsOnlyWhereTheyPay) {
  const LabelledImages sparse = images_with_zeros(50, 28, 28, 0.8, 3), dense = images_with_zeros(50, 28, 28, 0.2, 4);
  const std::string before = cpu_path();
  for (const std::string& path : runnable_cpu_paths()) {
    ASSERT_TRUE(set_cpu_path(path));
    const ListedImages l = list_images(sparse.view());
    EXPECT_EQ(l.covers(sparse.view()), path != "plain") << path;
    EXPECT_FALSE(l.covers(sparse.view().slice(0, 49))) << path;
    EXPECT_FALSE(list_images(dense.view()).covers(dense.view())) << path;
    EXPECT_EQ(list_images(sparse.view().shifted()).covers(sparse.view().shifted()), path != "plain") << path;
    if (path == "plain") continue;
    size_t nonzero = 0;
    for (uint8_t p : sparse.pixels) nonzero += p != 0;
    ASSERT_EQ(l.start.back(), nonzero);
    for (size_t i = 0; i < sparse.count; ++i)
      for (uint32_t q = l.start[i]; q < l.start[i + 1]; ++q)
        ASSERT_EQ(l.value[q], sparse.pixels[i * 784 + l.index[q]]) << path << " image " << i;
  }
  set_cpu_path(before);
}

}  // namespace
}  // namespace bp
