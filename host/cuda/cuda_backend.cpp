// The CUDA backend: parameters, workspace and (by default) the data stay on the device for the
// whole run; the step of step.hpp runs over CudaOps. Two ways of staging minibatches:
//   resident  the bytes are uploaded once, each epoch's permutation is uploaded, and a gather
//             kernel builds each float minibatch; steps are replayed from CUDA graphs of up to
//             kGraphSteps steps, since launch overhead dominates at mini-batch 10;
//   streamed  the host copies the next stage's images into pinned buffers while the device
//             computes the current stage (double-buffered, a copy stream and events).
#include <algorithm>
#include <cstring>
#include <iostream>
#include <deque>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_ops.hpp"
#include "cuda/resident_images.hpp"
#include "model/step.hpp"

namespace bp {
namespace {

static_assert(StepOps<CudaOps>);

constexpr size_t kEvalChunk = 10000;   // columns per evaluation pass
constexpr size_t kGraphSteps = 100;    // SGD steps per captured graph
constexpr size_t kStageBatches = 64;   // minibatches per streamed stage
constexpr size_t kCublasWorkspace = size_t{32} << 20;

// A data set on the device (resident_images.hpp) with the expansion of the view last passed in
// (the bytes are the same for both).
struct ResidentData : ResidentImages {
  Expansion expansion;
};

// Everything a captured graph bakes in: every device buffer its kernels and GEMMs read or write,
// and every scalar of the step. Any change means capturing again.
struct GraphKey {
  size_t m = 0, steps = 0, dim = 0;
  Hyper hyper;
  const uint8_t *pixels = nullptr, *labels = nullptr, *batch_labels = nullptr;
  const uint32_t* window = nullptr;
  const float *params = nullptr, *workspace = nullptr;
  const double* cost_sum = nullptr;
  const float* velocity = nullptr;
  size_t expanded_images = 0, expanded_width = 0;  // the gather's Expansion
  bool operator==(const GraphKey&) const = default;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(bool streamed, bool graphs) : streamed_(streamed), graphs_(graphs) {
    BP_CUBLAS_CHECK(cublasSetStream(blas_.get(), stream_.get()));
    BP_CUBLAS_CHECK(cublasSetPointerMode(blas_.get(), CUBLAS_POINTER_MODE_HOST));
    BP_CUBLAS_CHECK(cublasSetMathMode(blas_.get(), CUBLAS_DEFAULT_MATH));  // full float32, no TF32
    // A workspace of our own, so that graph capture never makes cuBLAS allocate.
    BP_CUBLAS_CHECK(cublasSetWorkspace(blas_.get(), blas_workspace_.data(), blas_workspace_.size()));
    ops_ = CudaOps{blas_.get(), stream_.get()};
  }

  std::string name() const override {
    if (cuda_status().emulated) return streamed_ ? "cuda (streamed, CUDA emulation: test build)" : "cuda (CUDA emulation: test build)";
    return streamed_ ? "cuda (streamed)" : "cuda";
  }

  // A chunk of whole graph replays (resident), or of whole stages (streamed).
  size_t preferred_steps() const override { return streamed_ ? kStageBatches : kGraphSteps; }

  void load(const Network& net) override {
    sizes_ = net.sizes;
    output_ = net.output;
    capacity_ = 0;
    params_ = DeviceBuffer<float>();
    velocity_ = DeviceBuffer<float>();
    graph_.reset();
    eval_capacity_ = 0;  // its layout was for the old sizes
    eval_workspace_ = DeviceBuffer<float>();
    eval_labels_ = DeviceBuffer<uint8_t>();
    reserve(1);
    std::vector<float> host(layout_.parameter_floats);
    flatten(net, layout_, host.data());
    params_.upload(host.data(), host.size(), stream_.get());
    stream_.synchronize();
  }

  void store(Network& net) override {
    std::vector<float> host(layout_.parameter_floats);
    params_.download(host.data(), host.size(), stream_.get());
    stream_.synchronize();
    net = zero_network(sizes_);
    net.output = output_;
    unflatten(host.data(), layout_, net);
  }

  void load_velocity(const Network& velocity) override {
    if (velocity.sizes != sizes_) throw Error("velocities of a " + format_layers(velocity.sizes) + " network for a " +
                                              format_layers(sizes_) + " one");
    ensure_velocity();
    std::vector<float> host(layout_.parameter_floats);
    flatten(velocity, layout_, host.data());
    velocity_.upload(host.data(), host.size(), stream_.get());
    stream_.synchronize();
  }

  void store_velocity(Network& velocity) override {
    velocity = zero_network(sizes_);
    if (velocity_.size() == 0) return;
    std::vector<float> host(layout_.parameter_floats);
    velocity_.download(host.data(), host.size(), stream_.get());
    stream_.synchronize();
    unflatten(host.data(), layout_, velocity);
  }

  double train(const DataView& data, std::span<const uint32_t> order, size_t batch_size,
               const Hyper& hyper) override {
    reserve(batch_size);
    if (hyper.momentum != 0) ensure_velocity();
    BP_CUDA_CHECK(cudaMemsetAsync(cost_sum_.data(), 0, sizeof(double), stream_.get()));
    if (streamed_)
      train_streamed(data, order, batch_size, hyper);
    else
      train_resident(data, order, batch_size, hyper);
    return read_cost();
  }

  // In a workspace of its own (eval_buffers), over the same parameters: the training workspace,
  // and the graph that points into it, stay as they are.
  Evaluation evaluate(const DataView& data) override {
    const ResidentData& d = resident(data);
    const size_t samples = data.samples();
    ensure_identity(identity_, samples, stream_);
    const StepBuffers eval = eval_buffers(std::min(kEvalChunk, std::max<size_t>(samples, 1)));
    const int classes = int(sizes_.back());
    DeviceBuffer<unsigned long long> counts(size_t(classes) + 1);  // per class, then correct
    BP_CUDA_CHECK(cudaMemsetAsync(counts.data(), 0, counts.size() * sizeof(unsigned long long), stream_.get()));
    for (size_t start = 0; start < samples; start += eval_capacity_) {
      const int m = int(std::min(eval_capacity_, samples - start));
      ops_.gather(d.pixels.data(), d.labels.data(), d.dim, identity_.data() + start, m, eval.a[0], eval_labels_.data(),
                  d.expansion);
      feedforward(ops_, eval, m);
      ops_.count_predictions(classes, m, eval.a.back(), eval_labels_.data(), counts.data());
    }
    std::vector<unsigned long long> host(counts.size());
    counts.download(host.data(), host.size(), stream_.get());
    stream_.synchronize();
    return {size_t(host[classes]), std::vector<size_t>(host.begin(), host.end() - 1)};
  }

  double gradient(const DataView& data, std::span<const uint32_t> batch, const Hyper& hyper,
                  Network& grad) override {
    const ResidentData& d = resident(data);
    const int m = int(batch.size());
    reserve(batch.size());
    upload_order(batch);
    DeviceBuffer<float> g(layout_.parameter_floats);
    const ParameterViews gv = parameter_views(layout_, g.data());
    BP_CUDA_CHECK(cudaMemsetAsync(cost_sum_.data(), 0, sizeof(double), stream_.get()));
    ops_.gather(d.pixels.data(), d.labels.data(), d.dim, order_.data(), m, buffers_.a[0], labels_.data(), d.expansion);
    mean_gradient(ops_, buffers_, m, hyper, gv.w, gv.b, cost_sum_.data());
    std::vector<float> host(layout_.parameter_floats);
    g.download(host.data(), host.size(), stream_.get());
    const double cost = read_cost();
    Network current;
    store(current);
    return finish_gradient(host.data(), layout_, current, cost, m, hyper, grad);
  }

 private:
  void reserve(size_t columns) {
    if (columns <= capacity_) return;
    capacity_ = columns;
    const StepLayout layout = step_layout(sizes_, capacity_);
    if (params_.size() != layout.parameter_floats) params_ = DeviceBuffer<float>(layout.parameter_floats);
    layout_ = layout;
    workspace_ = DeviceBuffer<float>(layout_.workspace_floats);
    labels_ = DeviceBuffer<uint8_t>(capacity_);
    point_buffers();
  }

  // Evaluation's buffers: params_ with a workspace and labels of at least `columns` columns,
  // allocated on the first evaluate() (and grown, up to kEvalChunk, if a later one needs more),
  // apart from the training workspace. The parameters' offsets depend on the sizes alone, so
  // the evaluation layout finds them where training put them.
  StepBuffers eval_buffers(size_t columns) {
    if (columns > eval_capacity_) {
      eval_workspace_ = DeviceBuffer<float>();  // the old one first: the two need not fit at once
      eval_labels_ = DeviceBuffer<uint8_t>();
      eval_capacity_ = 0;
      const StepLayout layout = step_layout(sizes_, columns);
      eval_workspace_ = DeviceBuffer<float>(layout.workspace_floats);
      eval_labels_ = DeviceBuffer<uint8_t>(columns);
      eval_capacity_ = columns;
    }
    return step_buffers(sizes_, output_, step_layout(sizes_, eval_capacity_), params_.data(), nullptr,
                        eval_workspace_.data(), eval_labels_.data());
  }

  // Zero velocities, from the first step with momentum (or load_velocity) until the next load().
  void ensure_velocity() {
    if (velocity_.size() != 0) return;
    velocity_ = DeviceBuffer<float>(layout_.parameter_floats);
    BP_CUDA_CHECK(cudaMemsetAsync(velocity_.data(), 0, velocity_.size() * sizeof(float), stream_.get()));
    point_buffers();
  }

  void point_buffers() {
    buffers_ = step_buffers(sizes_, output_, layout_, params_.data(), velocity_.data(), workspace_.data(),
                            labels_.data());
    graph_.reset();  // it points into the old buffers
  }

  // The view's images on the device (uploaded on first use), with the view's expansion.
  const ResidentData& resident(const DataView& data) {
    for (ResidentData& r : resident_) {
      if (r.holds(data)) {
        r.expansion = data.expansion();
        return r;
      }
    }
    resident_.push_back(ResidentData{upload_images(data, stream_), data.expansion()});
    ensure_identity(identity_, data.count, stream_);
    return resident_.back();
  }

  void upload_order(std::span<const uint32_t> order) {
    if (order_.size() < order.size()) order_ = DeviceBuffer<uint32_t>(std::max(order.size(), kGraphSteps * 10));
    order_.upload(order.data(), order.size(), stream_.get());
  }

  double read_cost() {
    double cost = 0;
    BP_CUDA_CHECK(cudaMemcpyAsync(&cost, cost_sum_.data(), sizeof(double), cudaMemcpyDeviceToHost, stream_.get()));
    stream_.synchronize();
    return cost;
  }

  // One SGD step on samples idx[0..m) of d (idx in device memory).
  void step(const ResidentData& d, const uint32_t* idx, int m, const Hyper& hyper) {
    ops_.gather(d.pixels.data(), d.labels.data(), d.dim, idx, m, buffers_.a[0], labels_.data(), d.expansion);
    update_mini_batch(ops_, buffers_, m, hyper, cost_sum_.data());
  }

  void train_resident(const DataView& data, std::span<const uint32_t> order, size_t m, const Hyper& hyper) {
    const ResidentData& d = resident(data);
    upload_order(order);
    const size_t full = order.size() / m;
    size_t done = 0;  // batches
    if (graphs_ && full >= kGraphSteps) {
      if (!graph_matches(d, m, hyper)) {
        // Warm-up: the first step of these shapes runs eagerly, so that cuBLAS's first SGEMM and
        // the loading of every kernel happen outside stream capture.
        step(d, order_.data(), int(m), hyper);
        done = 1;
        capture_or_fall_back(d, m, hyper);
      }
      for (; graph_.ready() && done + kGraphSteps <= full; done += kGraphSteps) {
        BP_CUDA_CHECK(cudaMemcpyAsync(window_.data(), order_.data() + done * m, kGraphSteps * m * sizeof(uint32_t),
                                      cudaMemcpyDeviceToDevice, stream_.get()));
        graph_.launch(stream_.get());
      }
    }
    for (; done < full; ++done) step(d, order_.data() + done * m, int(m), hyper);
    if (full * m < order.size()) step(d, order_.data() + full * m, int(order.size() - full * m), hyper);
  }

  GraphKey graph_key(const ResidentData& d, size_t m, const Hyper& hyper) const {
    return GraphKey{m,           kGraphSteps,       d.dim,           hyper,          d.pixels.data(), d.labels.data(),
                    labels_.data(), window_.data(), params_.data(), workspace_.data(), cost_sum_.data(),
                    velocity_.data(), d.expansion.images, d.expansion.width};
  }

  bool graph_matches(const ResidentData& d, size_t m, const Hyper& hyper) const {
    return graph_.ready() && window_.size() >= kGraphSteps * m && graph_key(d, m, hyper) == graph_key_;
  }

  // Captures kGraphSteps steps into graph_; if capture or instantiation fails, says so once and
  // turns graphs off for this backend, so the run goes on with eager steps.
  void capture_or_fall_back(const ResidentData& d, size_t m, const Hyper& hyper) {
    try {
      capture(d, m, hyper);
    } catch (const CudaError& e) {
      cudaGetLastError();  // capture errors are not sticky; clear the last-error slot
      graphs_ = false;
      std::cerr << "notice: CUDA graph capture failed (" << e.what() << "); continuing with eager steps\n";
    }
  }

  // Records kGraphSteps steps that read their samples from window_ into graph_. The old graph
  // goes first: it may point into buffers about to be replaced, and is not destroyed while the
  // stream captures.
  void capture(const ResidentData& d, size_t m, const Hyper& hyper) {
    graph_.reset();
    graph_key_ = GraphKey{};
    if (window_.size() < kGraphSteps * m) window_ = DeviceBuffer<uint32_t>(kGraphSteps * m);
    stream_.synchronize();
    BP_CUDA_CHECK(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal));
    try {
      for (size_t s = 0; s < kGraphSteps; ++s) step(d, window_.data() + s * m, int(m), hyper);
    } catch (...) {
      cudaGraph_t partial = nullptr;
      cudaStreamEndCapture(stream_.get(), &partial);
      if (partial) cudaGraphDestroy(partial);
      throw;
    }
    graph_.end_capture(stream_.get());
    graph_key_ = graph_key(d, m, hyper);
  }

  void train_streamed(const DataView& data, std::span<const uint32_t> order, size_t m, const Hyper& hyper) {
    const size_t stage = kStageBatches * m;  // samples per stage
    for (int b = 0; b < 2; ++b) {
      if (pinned_pixels_[b].size() < stage * data.dim || pinned_labels_[b].size() < stage) {
        pinned_pixels_[b] = PinnedBuffer<uint8_t>(stage * data.dim);
        pinned_labels_[b] = PinnedBuffer<uint8_t>(stage);
        staged_[b].pixels = DeviceBuffer<uint8_t>(stage * data.dim);
        staged_[b].labels = DeviceBuffer<uint8_t>(stage);
      }
      staged_[b].dim = data.dim;
    }
    ensure_identity(identity_, stage, stream_);
    for (size_t start = 0, k = 0; start < order.size(); start += stage, ++k) {
      const int b = int(k % 2);
      const size_t count = std::min(stage, order.size() - start);
      copied_[b].synchronize();  // the copy out of pinned buffer b two stages ago has finished
      for (size_t i = 0; i < count; ++i) {
        const uint32_t sample = order[start + i];
        if (data.shifts)
          data.copy_sample(sample, pinned_pixels_[b].data() + i * data.dim);
        else
          std::memcpy(pinned_pixels_[b].data() + i * data.dim, data.pixels + size_t(sample) * data.dim, data.dim);
        pinned_labels_[b].data()[i] = data.label(sample);
      }
      consumed_[b].wait_on(copy_stream_.get());  // the device is done with staged_[b]
      staged_[b].pixels.upload(pinned_pixels_[b].data(), count * data.dim, copy_stream_.get());
      staged_[b].labels.upload(pinned_labels_[b].data(), count, copy_stream_.get());
      copied_[b].record(copy_stream_.get());
      copied_[b].wait_on(stream_.get());
      for (size_t s = 0; s < count; s += m)
        step(staged_[b], identity_.data() + s, int(std::min(m, count - s)), hyper);
      consumed_[b].record(stream_.get());
    }
  }

  const bool streamed_;
  bool graphs_;  // replay captured graphs (resident); turned off for good if a capture fails
  Stream stream_, copy_stream_;
  // Declared before the handle, so destroyed after it (members go in reverse order): cuBLAS
  // may still use its workspace until cublasDestroy, which syncs, has returned.
  DeviceBuffer<uint8_t> blas_workspace_{kCublasWorkspace};
  CublasHandle blas_;
  CudaOps ops_{};
  std::vector<size_t> sizes_;
  Output output_ = Output::sigmoid;
  size_t capacity_ = 0;
  StepLayout layout_;
  DeviceBuffer<float> params_, velocity_, workspace_;
  DeviceBuffer<uint8_t> labels_;
  size_t eval_capacity_ = 0;  // columns of evaluation's own workspace (0: none yet)
  DeviceBuffer<float> eval_workspace_;
  DeviceBuffer<uint8_t> eval_labels_;
  DeviceBuffer<double> cost_sum_{1};
  DeviceBuffer<uint32_t> order_, window_, identity_;
  StepBuffers buffers_;
  std::deque<ResidentData> resident_;  // a deque: references handed out stay valid as it grows
  GraphExec graph_;
  GraphKey graph_key_;
  PinnedBuffer<uint8_t> pinned_pixels_[2], pinned_labels_[2];
  ResidentData staged_[2];
  Event copied_[2], consumed_[2];
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(bool streamed, bool graphs) {
  const CudaStatus status = cuda_status();
  if (!status.usable) throw UsageError("--device cuda: no usable CUDA device: " + status.reason);
  return std::make_unique<CudaBackend>(streamed, graphs);
}

}  // namespace bp
