// The batched CUDA backend: K networks' parameters (and velocities), workspaces, per-network
// scalars and cost sums on the device for the whole run, the training and evaluation bytes
// uploaded once; each train() uploads the networks' sample orders and runs the batched step once
// per minibatch for all K networks. One launch per line of the step serves every network, and,
// as in the single-network backend, steps are replayed from CUDA graphs of kGraphSteps steps
// (launch overhead dominates at mini-batch 10): before each replay the next kGraphSteps batches
// of every network's order are copied into the window the graph reads.
#include "cuda/cuda_batched_backend.hpp"

#include <algorithm>
#include <deque>
#include <iostream>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_batched_ops.hpp"
#include "cuda/resident_images.hpp"
#include "kernels/step_kernels.cuh"

namespace bp {
namespace {

constexpr size_t kCublasWorkspace = size_t{32} << 20;
constexpr size_t kGraphSteps = kBatchedGraphSteps;

// Everything a captured graph bakes in: every device buffer its kernels and GEMMs touch and every
// host scalar of its launches (the per-network scalars are read from device memory at replay, so
// new eta or lambda values need no new capture). Any change means capturing again.
struct GraphKey {
  size_t m = 0, dim = 0, count = 0, images = 0, width = 0;
  Cost cost = Cost::quadratic;
  const uint8_t *pixels = nullptr, *labels = nullptr, *batch_labels = nullptr;
  const uint32_t* window = nullptr;
  const float *params = nullptr, *velocity = nullptr, *workspace = nullptr, *scalars = nullptr, *scratch = nullptr;
  const double* cost_sums = nullptr;
  bool operator==(const GraphKey&) const = default;
};

class CudaBatchedBackend final : public BatchedBackend {
 public:
  explicit CudaBatchedBackend(bool graphs) : graphs_(graphs) {
    BP_CUBLAS_CHECK(cublasSetStream(blas_.get(), stream_.get()));
    BP_CUBLAS_CHECK(cublasSetPointerMode(blas_.get(), CUBLAS_POINTER_MODE_HOST));
    BP_CUBLAS_CHECK(cublasSetMathMode(blas_.get(), CUBLAS_DEFAULT_MATH));  // full float32, no TF32
    BP_CUBLAS_CHECK(cublasSetWorkspace(blas_.get(), blas_workspace_.data(), blas_workspace_.size()));
    ops_.blas = blas_.get();
    ops_.stream = stream_.get();
  }

  std::string name() const override {
    return cuda_status().emulated ? "cuda (batched, CUDA emulation: test build)" : "cuda (batched)";
  }

  // Chunks of whole graph replays.
  size_t preferred_steps() const override { return kGraphSteps; }

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
    graph_.reset();  // it points into the old buffers
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
    check_batched_train(hypers, count_, orders.size(), length, velocity_.size() != 0);
    const ResidentImages& d = resident(data);
    reserve(batch_size);
    if (orders_.size() < orders.size()) orders_ = DeviceBuffer<uint32_t>(orders.size());
    orders_.upload(orders.data(), orders.size(), stream_.get());
    BP_CUDA_CHECK(cudaMemsetAsync(cost_sums_.data(), 0, count_ * sizeof(double), stream_.get()));
    const Expansion e = data.expansion();
    const Cost cost = hypers[0].cost;
    const size_t m = batch_size, full = length / m;
    upload_scalars(hypers, int(m), 0);
    size_t done = 0;  // batches
    if (graphs_ && full >= kGraphSteps) {
      if (!graph_matches(d, e, m, cost)) {
        // Warm-up: the first step of these shapes runs eagerly, so that cuBLAS's first batched
        // SGEMMs and the loading of every kernel happen outside stream capture.
        step(d, e, orders_.data(), length, int(m), cost);
        done = 1;
        capture_or_fall_back(d, e, m, cost);
      }
      for (; graph_.ready() && done + kGraphSteps <= full; done += kGraphSteps) {
        // Network k's next kGraphSteps * m samples to window_ + k * kGraphSteps * m.
        BP_CUDA_CHECK(cudaMemcpy2DAsync(window_.data(), kGraphSteps * m * sizeof(uint32_t), orders_.data() + done * m,
                                        length * sizeof(uint32_t), kGraphSteps * m * sizeof(uint32_t), count_,
                                        cudaMemcpyDeviceToDevice, stream_.get()));
        graph_.launch(stream_.get());
      }
    }
    for (; done < full; ++done) step(d, e, orders_.data() + done * m, length, int(m), cost);
    if (full * m < length) {
      const int last = int(length - full * m);
      upload_scalars(hypers, last, 1);  // queued behind the steps with the full batch's scalars
      step(d, e, orders_.data() + full * m, length, last, cost);
    }
    std::vector<double> costs(count_);
    cost_sums_.download(costs.data(), count_, stream_.get());
    stream_.synchronize();  // also: the scalars' host copies may change after this returns
    return costs;
  }

  std::vector<Evaluation> evaluate(const DataView& data) override {
    const ResidentImages& d = resident(data);
    const size_t samples = data.samples();
    const BatchedLayout layout = batched_layout(sizes_, kBatchedEvalChunk, true);
    if (eval_workspace_.size() != count_ * layout.work_stride) eval_workspace_ = DeviceBuffer<float>(count_ * layout.work_stride);
    if (eval_input_.size() < kBatchedEvalChunk * d.dim) eval_input_ = DeviceBuffer<float>(kBatchedEvalChunk * d.dim);
    if (eval_labels_.size() < kBatchedEvalChunk) eval_labels_ = DeviceBuffer<uint8_t>(kBatchedEvalChunk);
    ensure_identity(identity_, samples, stream_);
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
  // One batched step: network k's batch is idx[k * si .. k * si + m).
  void step(const ResidentImages& d, const Expansion& e, const uint32_t* idx, size_t si, int m, Cost cost) {
    ops_.gather(d.pixels.data(), d.labels.data(), d.dim, idx, si, m, buffers_.first.a[0], buffers_.input_stride,
                labels_.data(), capacity_, count_, e);
    update_mini_batch_batched(ops_, buffers_, m, cost, cost_sums_.data());
  }

  GraphKey graph_key(const ResidentImages& d, const Expansion& e, size_t m, Cost cost) const {
    GraphKey k;
    k.m = m;
    k.dim = d.dim;
    k.count = count_;
    k.images = e.images;
    k.width = e.width;
    k.cost = cost;
    k.pixels = d.pixels.data();
    k.labels = d.labels.data();
    k.batch_labels = labels_.data();
    k.window = window_.data();
    k.params = params_.data();
    k.velocity = velocity_.data();
    k.workspace = workspace_.data();
    k.scalars = scalars_.data();
    k.scratch = scratch_.data();
    k.cost_sums = cost_sums_.data();
    return k;
  }

  bool graph_matches(const ResidentImages& d, const Expansion& e, size_t m, Cost cost) const {
    return graph_.ready() && window_.size() >= count_ * kGraphSteps * m && graph_key(d, e, m, cost) == graph_key_;
  }

  // Captures kGraphSteps steps reading window_ into graph_; if capture or instantiation fails,
  // says so once and goes on with eager steps for good.
  void capture_or_fall_back(const ResidentImages& d, const Expansion& e, size_t m, Cost cost) {
    try {
      capture(d, e, m, cost);
    } catch (const CudaError& error) {
      cudaGetLastError();  // capture errors are not sticky; clear the last-error slot
      graphs_ = false;
      std::cerr << "notice: CUDA graph capture failed (" << error.what() << "); continuing with eager steps\n";
    }
  }

  // The old graph goes first: it may point into buffers about to be replaced, and an executable
  // is not destroyed while its stream captures. Nothing inside the capture copies from the host
  // (the scalars were uploaded before).
  void capture(const ResidentImages& d, const Expansion& e, size_t m, Cost cost) {
    graph_.reset();
    graph_key_ = GraphKey{};
    if (window_.size() < count_ * kGraphSteps * m) window_ = DeviceBuffer<uint32_t>(count_ * kGraphSteps * m);
    stream_.synchronize();
    BP_CUDA_CHECK(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal));
    try {
      for (size_t s = 0; s < kGraphSteps; ++s) step(d, e, window_.data() + s * m, kGraphSteps * m, int(m), cost);
    } catch (...) {
      cudaGraph_t partial = nullptr;
      cudaStreamEndCapture(stream_.get(), &partial);
      if (partial) cudaGraphDestroy(partial);
      throw;
    }
    graph_.end_capture(stream_.get());
    graph_key_ = graph_key(d, e, m, cost);
  }

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
    graph_.reset();  // it points into the old workspace
  }

  void point_scalars() {
    buffers_.alpha = scalars_.data();
    buffers_.beta_w = scalars_.data() + count_;
    buffers_.beta_b = scalars_.data() + 2 * count_;
    buffers_.l2 = scalars_.data() + 3 * count_;
  }

  // Queued behind the steps (and graph replays) that use the old values, which read them at run
  // time. The copy may read its pageable source as late as when it runs (CUDA promises no
  // staging for the Async copies), so the full batch's and the last batch's scalars have a host
  // buffer each (slot 0 and 1), kept until train() synchronises at its end; never called while
  // the stream captures.
  void upload_scalars(const std::vector<Hyper>& hypers, int m, int slot) {
    host_scalars_[slot] = batched_scalars(hypers, m);
    scalars_.upload(host_scalars_[slot].values.data(), host_scalars_[slot].values.size(), stream_.get());
  }

  const ResidentImages& resident(const DataView& v) {
    for (const ResidentImages& r : resident_)
      if (r.holds(v)) return r;
    resident_.push_back(upload_images(v, stream_));
    return resident_.back();
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
  // Declared before the handle, so destroyed after it (members go in reverse order): cuBLAS
  // may still use its workspace until cublasDestroy, which syncs, has returned.
  DeviceBuffer<uint8_t> blas_workspace_{kCublasWorkspace};
  CublasHandle blas_;
  CudaBatchedOps ops_;
  std::vector<size_t> sizes_;
  Output output_ = Output::sigmoid;
  size_t count_ = 0, capacity_ = 0;
  BatchedLayout layout_;
  DeviceBuffer<float> params_, velocity_, scratch_, workspace_, scalars_, eval_workspace_, eval_input_;
  DeviceBuffer<uint8_t> labels_, eval_labels_;
  DeviceBuffer<double> cost_sums_;
  DeviceBuffer<uint32_t> orders_, identity_, window_;
  bool graphs_ = true;  // replay captured graphs; turned off for good if a capture fails
  GraphExec graph_;
  GraphKey graph_key_;
  BatchedScalars host_scalars_[2];  // the full batch's, the last batch's (upload_scalars)
  BatchedBuffers buffers_;
  std::deque<ResidentImages> resident_;
};

}  // namespace

size_t cuda_free_memory() {
  if (!cuda_status().usable) return 0;
  size_t free_bytes = 0, total = 0;
  BP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return free_bytes;
}

std::unique_ptr<BatchedBackend> make_cuda_batched_backend(bool graphs) {
  const CudaStatus status = cuda_status();
  if (!status.usable) throw UsageError("--device cuda: no usable CUDA device: " + status.reason);
  return std::make_unique<CudaBatchedBackend>(graphs);
}

}  // namespace bp
