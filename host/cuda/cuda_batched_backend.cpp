// The batched CUDA backend: K networks' parameters (and velocities), workspaces, per-network
// scalars and cost sums on the device for the whole run, the training and evaluation bytes
// uploaded once; each train() uploads the networks' sample orders and runs the batched step once
// per minibatch for all K networks. Steps run eagerly (one launch per line of the step serves
// every network, so at K = 100 the launches cost a hundredth of what K separate runs pay).
#include "cuda/cuda_batched_backend.hpp"

#include <algorithm>
#include <deque>
#include <numeric>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_batched_ops.hpp"
#include "kernels/step_kernels.cuh"

namespace bp {
namespace {

constexpr size_t kCublasWorkspace = size_t{32} << 20;

// A data set's bytes on the device, remembered by the host view they came from.
struct DeviceData {
  const uint8_t *host_pixels = nullptr, *host_labels = nullptr;
  size_t count = 0, dim = 0;
  DeviceBuffer<uint8_t> pixels, labels;
};

class CudaBatchedBackend final : public BatchedBackend {
 public:
  CudaBatchedBackend() {
    BP_CUBLAS_CHECK(cublasSetStream(blas_.get(), stream_.get()));
    BP_CUBLAS_CHECK(cublasSetPointerMode(blas_.get(), CUBLAS_POINTER_MODE_HOST));
    BP_CUBLAS_CHECK(cublasSetMathMode(blas_.get(), CUBLAS_DEFAULT_MATH));  // full float32, no TF32
    BP_CUBLAS_CHECK(cublasSetWorkspace(blas_.get(), blas_workspace_.data(), blas_workspace_.size()));
    ops_.blas = blas_.get();
    ops_.stream = stream_.get();
  }

  std::string name() const override { return "cuda (batched)"; }

  void load(const std::vector<Network>& nets, bool momentum) override {
    if (nets.empty()) throw Error("no networks to load");
    sizes_ = nets[0].sizes;
    output_ = nets[0].output;
    count_ = nets.size();
    layout_ = batched_layout(sizes_, 1, false);
    capacity_ = 0;
    eval_workspace_ = DeviceBuffer<float>();
    std::vector<float> host(count_ * layout_.param_stride, 0.0f);
    for (size_t k = 0; k < count_; ++k) {
      if (nets[k].sizes != sizes_ || nets[k].output != output_) throw Error("networks trained together must have one shape");
      flatten(nets[k], layout_.one, host.data() + k * layout_.param_stride);
    }
    params_ = DeviceBuffer<float>(host.size());
    params_.upload(host.data(), host.size(), stream_.get());
    velocity_ = DeviceBuffer<float>(momentum ? host.size() : 0);
    if (momentum) BP_CUDA_CHECK(cudaMemsetAsync(velocity_.data(), 0, velocity_.size() * sizeof(float), stream_.get()));
    size_t largest = 0;  // the largest weight matrix: gemm_scaled's product for one network
    for (size_t l = 0; l + 1 < sizes_.size(); ++l) largest = std::max(largest, sizes_[l] * sizes_[l + 1]);
    scratch_ = DeviceBuffer<float>(largest * count_);
    ops_.scratch = scratch_.data();
    ops_.scratch_floats = scratch_.size();
    cost_sums_ = DeviceBuffer<double>(count_);
    scalars_ = DeviceBuffer<float>(4 * count_);
    stream_.synchronize();
  }

  void store(std::vector<Network>& nets) override { download_all(params_, nets); }

  void store_velocity(std::vector<Network>& velocities) override {
    if (velocity_.size() == 0) {
      velocities.assign(count_, zero_network(sizes_));
      return;
    }
    download_all(velocity_, velocities);
  }

  std::vector<double> train(const DataView& data, std::span<const uint32_t> orders, size_t length, size_t batch_size,
                            const std::vector<Hyper>& hypers) override {
    if (hypers.size() != count_ || orders.size() != count_ * length) throw Error("one order and Hyper per network");
    const DeviceData& d = resident(data);
    reserve(batch_size);
    if (orders_.size() < orders.size()) orders_ = DeviceBuffer<uint32_t>(orders.size());
    orders_.upload(orders.data(), orders.size(), stream_.get());
    BP_CUDA_CHECK(cudaMemsetAsync(cost_sums_.data(), 0, count_ * sizeof(double), stream_.get()));
    int scalars_for = 0;  // the m the device's scalars were computed for
    for (size_t start = 0; start < length; start += batch_size) {
      const int m = int(std::min(batch_size, length - start));
      if (m != scalars_for) upload_scalars(hypers, m);
      scalars_for = m;
      ops_.gather(d.pixels.data(), d.labels.data(), d.dim, orders_.data() + start, length, m, buffers_.first.a[0],
                  buffers_.input_stride, labels_.data(), capacity_, count_, data.expansion());
      update_mini_batch_batched(ops_, buffers_, m, hypers[0].cost, cost_sums_.data());
    }
    std::vector<double> costs(count_);
    cost_sums_.download(costs.data(), count_, stream_.get());
    stream_.synchronize();  // also: the scalars' host copy may change after this returns
    return costs;
  }

  std::vector<Evaluation> evaluate(const DataView& data) override {
    const DeviceData& d = resident(data);
    const size_t samples = data.samples();
    const BatchedLayout layout = batched_layout(sizes_, kBatchedEvalChunk, true);
    if (eval_workspace_.size() != count_ * layout.work_stride) eval_workspace_ = DeviceBuffer<float>(count_ * layout.work_stride);
    if (eval_input_.size() < kBatchedEvalChunk * d.dim) eval_input_ = DeviceBuffer<float>(kBatchedEvalChunk * d.dim);
    if (eval_labels_.size() < kBatchedEvalChunk) eval_labels_ = DeviceBuffer<uint8_t>(kBatchedEvalChunk);
    ensure_identity(samples);
    const BatchedBuffers b = batched_buffers(sizes_, output_, layout, count_, params_.data(), nullptr,
                                             eval_workspace_.data(), eval_input_.data(), eval_labels_.data(), 0);
    const int classes = int(sizes_.back());
    DeviceBuffer<unsigned long long> counts(count_ * (size_t(classes) + 1));
    BP_CUDA_CHECK(cudaMemsetAsync(counts.data(), 0, counts.size() * sizeof(unsigned long long), stream_.get()));
    for (size_t start = 0; start < samples; start += kBatchedEvalChunk) {
      const int m = int(std::min(kBatchedEvalChunk, samples - start));
      BP_CUDA_CHECK(kernels::gather_normalise(d.pixels.data(), d.labels.data(), d.dim, identity_.data() + start, m,
                                              eval_input_.data(), eval_labels_.data(), stream_.get(), data.expansion()));
      feedforward_batched(ops_, b, m);
      ops_.count_predictions(classes, m, b.first.a.back(), b.work_stride, eval_labels_.data(), counts.data(), count_);
    }
    std::vector<unsigned long long> host(counts.size());
    counts.download(host.data(), host.size(), stream_.get());
    stream_.synchronize();
    std::vector<Evaluation> out(count_);
    for (size_t k = 0; k < count_; ++k) {
      const unsigned long long* c = host.data() + k * (classes + 1);
      out[k] = {size_t(c[classes]), std::vector<size_t>(c, c + classes)};
    }
    return out;
  }

 private:
  void reserve(size_t columns) {
    if (columns <= capacity_) return;
    capacity_ = columns;
    const BatchedLayout layout = batched_layout(sizes_, capacity_, false);
    layout_.one = layout.one;  // parameter offsets do not depend on the capacity
    layout_.work_stride = layout.work_stride;
    workspace_ = DeviceBuffer<float>(count_ * layout_.work_stride);
    labels_ = DeviceBuffer<uint8_t>(count_ * capacity_);
    buffers_ = batched_buffers(sizes_, output_, layout_, count_, params_.data(),
                               velocity_.size() ? velocity_.data() : nullptr, workspace_.data(), nullptr,
                               labels_.data(), capacity_);
    point_scalars();
  }

  void point_scalars() {
    buffers_.alpha = scalars_.data();
    buffers_.beta_w = scalars_.data() + count_;
    buffers_.beta_b = scalars_.data() + 2 * count_;
    buffers_.l2 = scalars_.data() + 3 * count_;
  }

  // Queued behind the steps that use the old values; host_scalars_ stays alive until train()
  // synchronises, so the copy never reads freed memory.
  void upload_scalars(const std::vector<Hyper>& hypers, int m) {
    host_scalars_ = batched_scalars(hypers, m);
    scalars_.upload(host_scalars_.values.data(), host_scalars_.values.size(), stream_.get());
  }

  const DeviceData& resident(const DataView& v) {
    for (const DeviceData& r : resident_)
      if (r.host_pixels == v.pixels && r.host_labels == v.labels && r.count == v.count && r.dim == v.dim) return r;
    DeviceData r;
    r.host_pixels = v.pixels;
    r.host_labels = v.labels;
    r.count = v.count;
    r.dim = v.dim;
    r.pixels = DeviceBuffer<uint8_t>(v.count * v.dim);
    r.labels = DeviceBuffer<uint8_t>(v.count);
    r.pixels.upload(v.pixels, v.count * v.dim, stream_.get());
    r.labels.upload(v.labels, v.count, stream_.get());
    stream_.synchronize();
    resident_.push_back(std::move(r));
    return resident_.back();
  }

  void ensure_identity(size_t n) {
    if (identity_.size() >= n) return;
    std::vector<uint32_t> host(n);
    std::iota(host.begin(), host.end(), 0u);
    identity_ = DeviceBuffer<uint32_t>(n);
    identity_.upload(host.data(), n, stream_.get());
    stream_.synchronize();
  }

  void download_all(const DeviceBuffer<float>& flat, std::vector<Network>& nets) {
    std::vector<float> host(flat.size());
    flat.download(host.data(), host.size(), stream_.get());
    stream_.synchronize();
    nets.assign(count_, zero_network(sizes_));
    for (size_t k = 0; k < count_; ++k) {
      nets[k].output = output_;
      unflatten(host.data() + k * layout_.param_stride, layout_.one, nets[k]);
    }
  }

  Stream stream_;
  CublasHandle blas_;
  DeviceBuffer<uint8_t> blas_workspace_{kCublasWorkspace};
  CudaBatchedOps ops_;
  std::vector<size_t> sizes_;
  Output output_ = Output::sigmoid;
  size_t count_ = 0, capacity_ = 0;
  BatchedLayout layout_;
  DeviceBuffer<float> params_, velocity_, scratch_, workspace_, scalars_, eval_workspace_, eval_input_;
  DeviceBuffer<uint8_t> labels_, eval_labels_;
  DeviceBuffer<double> cost_sums_;
  DeviceBuffer<uint32_t> orders_, identity_;
  BatchedScalars host_scalars_;
  BatchedBuffers buffers_;
  std::deque<DeviceData> resident_;
};

}  // namespace

size_t cuda_free_memory() {
  if (!cuda_status().usable) return 0;
  size_t free_bytes = 0, total = 0;
  BP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return free_bytes;
}

std::unique_ptr<BatchedBackend> make_cuda_batched_backend() {
  const CudaStatus status = cuda_status();
  if (!status.usable) throw UsageError("--device cuda: no usable CUDA device: " + status.reason);
  return std::make_unique<CudaBatchedBackend>();
}

}  // namespace bp
