// The CUDA backend: K networks' parameters (and velocities), workspaces, per-network scalars and
// cost sums on the device for the whole run; the step of step.hpp over CudaOps, one launch per
// line of the step for every network (a single network is K = 1). Two ways of staging
// minibatches:
//   resident  the bytes are uploaded once, each chunk's sample orders are uploaded, and a gather
//             kernel builds each float minibatch; steps are replayed from CUDA graphs of
//             kCudaGraphSteps steps (graph_replay.hpp), since launch overhead dominates at
//             mini-batch 10: before each replay the next steps' samples of every network are
//             copied into the window the graph reads;
//   streamed  the host copies the next stage's images into pinned buffers while the device
//             computes the current stage (double-buffered, a copy stream and events).
// The step's scalars (eta, lambda, mu per network) live in device memory and are read when the
// step runs, so a new eta is an upload, not a new capture. With the fused engine a train call is
// one launch of kernels/fused_step.cuh over the resident bytes and the uploaded orders instead.
#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_ops.hpp"
#include "cuda/fused_plan.hpp"
#include "cuda/graph_replay.hpp"
#include "cuda/resident_images.hpp"
#include "model/step.hpp"

namespace bp {
namespace {

constexpr size_t kGraphSteps = kCudaGraphSteps;
constexpr size_t kStageBatches = 64;  // minibatches per streamed stage
constexpr size_t kCublasWorkspace = size_t{32} << 20;

// The shared memory a block may opt into on GPU 0, the one backprop uses (0 where unreadable);
// asked once: a sweep checks every network's shape against it.
size_t block_shared_limit() {
  static const size_t limit = [] {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
      (void)cudaGetLastError();
      return size_t(0);
    }
    return size_t(p.sharedMemPerBlockOptin);
  }();
  return limit;
}

// Everything a captured graph bakes in: every device buffer its kernels and GEMMs read or write
// and every host scalar of its launches.
struct GraphKey {
  size_t m = 0, dim = 0, count = 0, images = 0, width = 0;
  Cost cost = Cost::quadratic;
  bool momentum = false, l2_decay = false;
  const uint8_t *pixels = nullptr, *labels = nullptr, *batch_labels = nullptr;
  const uint32_t* window = nullptr;
  const float *params = nullptr, *velocity = nullptr, *workspace = nullptr, *scalars = nullptr, *scratch = nullptr;
  const double* cost_sums = nullptr;
  bool operator==(const GraphKey&) const = default;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(bool streamed, bool graphs, CudaEngine engine)
      : streamed_(streamed), fused_(engine == CudaEngine::fused), graph_(graphs) {
    BP_CUBLAS_CHECK(cublasSetStream(blas_.get(), stream_.get()));
    BP_CUBLAS_CHECK(cublasSetPointerMode(blas_.get(), CUBLAS_POINTER_MODE_HOST));
    BP_CUBLAS_CHECK(cublasSetMathMode(blas_.get(), CUBLAS_DEFAULT_MATH));  // full float32, no TF32
    // A workspace of our own, so that graph capture never makes cuBLAS allocate.
    BP_CUBLAS_CHECK(cublasSetWorkspace(blas_.get(), blas_workspace_.data(), blas_workspace_.size()));
    ops_.blas = blas_.get();
    ops_.stream = stream_.get();
  }

  std::string name() const override {
    if (fused_) return cuda_status().emulated ? "cuda fused (CUDA emulation: test build)" : "cuda fused";
    if (cuda_status().emulated)
      return streamed_ ? "cuda (streamed, CUDA emulation: test build)" : "cuda (CUDA emulation: test build)";
    return streamed_ ? "cuda (streamed)" : "cuda";
  }

  // A chunk of whole graph replays (resident), or of whole stages (streamed).
  size_t preferred_steps() const override { return streamed_ ? kStageBatches : kGraphSteps; }

  void load_all(std::span<const Network> nets) override {
    check_one_shape(nets);
    sizes_ = nets[0].sizes;
    output_ = nets[0].output;
    count_ = nets.size();
    capacity_ = 0;
    graph_.reset();  // it points into the old buffers
    params_ = DeviceBuffer<float>();
    velocity_ = DeviceBuffer<float>();
    eval_workspace_ = DeviceBuffer<float>();
    reserve(1);
    const std::vector<float> host = flatten_all(nets, layout_);
    params_ = DeviceBuffer<float>(host.size());
    params_.upload(host.data(), host.size(), stream_.get());
    size_t largest = 0;  // the largest weight matrix: gemm_scaled's product for one network
    for (size_t l = 0; l + 1 < sizes_.size(); ++l) largest = std::max(largest, sizes_[l] * sizes_[l + 1]);
    scratch_ = DeviceBuffer<float>(count_ > 1 ? largest * count_ : 0);
    ops_.scratch = scratch_.data();
    ops_.scratch_floats = scratch_.size();
    cost_sums_ = DeviceBuffer<double>(count_);
    scalars_ = DeviceBuffer<float>(4 * count_);
    point_buffers();
    stream_.synchronize();
  }

  void store_all(std::vector<Network>& nets) override {
    const std::vector<float> host = download(params_);
    nets = unflatten_all(host.data(), layout_, count_, sizes_, output_);
  }

  void load_velocities(std::span<const Network> velocities) override {
    if (velocities.size() != count_) throw Error("one velocity per loaded network");
    for (const Network& v : velocities)
      if (v.sizes != sizes_)
        throw Error("velocities of a " + format_layers(v.sizes) + " network for a " + format_layers(sizes_) + " one");
    ensure_velocity();
    const std::vector<float> host = flatten_all(velocities, layout_);
    velocity_.upload(host.data(), host.size(), stream_.get());
    stream_.synchronize();
  }

  void store_velocities(std::vector<Network>& velocities) override {
    if (velocity_.size() == 0) {
      velocities.assign(count_, zero_network(sizes_));
      return;
    }
    const std::vector<float> host = download(velocity_);
    velocities = unflatten_all(host.data(), layout_, count_, sizes_, Output::sigmoid);
  }

  std::vector<double> train_all(const DataView& data, std::span<const uint32_t> orders, size_t batch_size,
                                std::span<const Hyper> hypers) override {
    const size_t length = order_length(hypers, count_, orders.size());
    reserve(batch_size);
    if (hypers[0].momentum != 0) ensure_velocity();
    BP_CUDA_CHECK(cudaMemsetAsync(cost_sums_.data(), 0, count_ * sizeof(double), stream_.get()));
    if (fused_)
      train_fused(data, orders, length, batch_size, hypers);
    else if (streamed_)
      train_streamed(data, orders, length, batch_size, hypers);
    else
      train_resident(data, orders, length, batch_size, hypers);
    std::vector<double> costs(count_);
    cost_sums_.download(costs.data(), count_, stream_.get());
    stream_.synchronize();  // also: the scalars' host copies may change after this returns
    return costs;
  }

  // In a workspace of its own, one input shared by every network, over the same parameters: the
  // training workspace, and the graph that points into it, stay as they are.
  std::vector<Evaluation> evaluate_all(const DataView& data) override {
    if (count_ == 0) throw Error("no networks loaded");
    const ResidentData& d = resident(data);
    const size_t samples = data.samples();
    const StepLayout layout = step_layout(sizes_, kCudaEvalChunk, 1, true);
    if (eval_workspace_.size() != count_ * layout.work_stride) {
      eval_workspace_ = DeviceBuffer<float>();  // the old one first: the two need not fit at once
      eval_workspace_ = DeviceBuffer<float>(count_ * layout.work_stride);
    }
    if (eval_input_.size() < kCudaEvalChunk * d.dim) eval_input_ = DeviceBuffer<float>(kCudaEvalChunk * d.dim);
    if (eval_labels_.size() < kCudaEvalChunk) eval_labels_ = DeviceBuffer<uint8_t>(kCudaEvalChunk);
    ensure_identity(identity_, samples, stream_);
    const StepBuffers eval = step_buffers(sizes_, output_, layout, count_, params_.data(), nullptr,
                                          eval_workspace_.data(), eval_labels_.data(), 0, eval_input_.data());
    const size_t classes = sizes_.back();
    DeviceBuffer<unsigned long long> counts(count_ * (classes + 1));  // per network: per class, then correct
    BP_CUDA_CHECK(cudaMemsetAsync(counts.data(), 0, counts.size() * sizeof(unsigned long long), stream_.get()));
    for (size_t start = 0; start < samples; start += kCudaEvalChunk) {
      const int m = int(std::min(kCudaEvalChunk, samples - start));
      ops_.gather(d.pixels.data(), d.labels.data(), d.dim, identity_.data() + start, 0, m, eval.a[0], 0,
                  eval_labels_.data(), 0, 1, d.expansion);
      feedforward(ops_, eval, m);
      ops_.count_predictions(int(classes), m, eval.a.back(), eval.work_stride, eval_labels_.data(), counts.data(),
                             count_);
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

  double gradient(const DataView& data, std::span<const uint32_t> batch, const Hyper& hyper, Network& grad) override {
    if (count_ != 1) throw Error("gradient() takes a backend holding one network");
    const ResidentData& d = resident(data);
    const int m = int(batch.size());
    reserve(batch.size());
    upload_orders(batch);
    DeviceBuffer<float> g(layout_.param_stride);
    const ParameterViews gv = parameter_views(layout_, g.data());
    upload_scalars(gradient_scalars({&hyper, 1}, m), 0);
    BP_CUDA_CHECK(cudaMemsetAsync(cost_sums_.data(), 0, sizeof(double), stream_.get()));
    ops_.gather(d.pixels.data(), d.labels.data(), d.dim, orders_.data(), 0, m, buffers_.a[0], 0, labels_.data(), 0, 1,
                d.expansion);
    mean_gradient(ops_, buffers_, m, hyper.cost, gv.w, gv.b, cost_sums_.data());
    const std::vector<float> host = download(g);
    double cost = 0;
    cost_sums_.download(&cost, 1, stream_.get());
    stream_.synchronize();
    Network current;
    store(current);
    return finish_gradient(host.data(), layout_, current, cost, m, hyper, grad);
  }

 private:
  // A data set on the device (resident_images.hpp) with the expansion of the view last passed in
  // (the bytes are the same for both).
  struct ResidentData : ResidentImages {
    Expansion expansion;
  };

  void reserve(size_t columns) {
    if (columns <= capacity_) return;
    capacity_ = columns;
    layout_ = step_layout(sizes_, capacity_);  // the parameter offsets do not depend on the capacity
    workspace_ = DeviceBuffer<float>(count_ * layout_.work_stride);
    labels_ = DeviceBuffer<uint8_t>(count_ * capacity_);
    if (params_.size() != 0) point_buffers();
  }

  // Zero velocities, from the first step with momentum (or load_velocities) until the next load.
  void ensure_velocity() {
    if (velocity_.size() != 0) return;
    velocity_ = DeviceBuffer<float>(params_.size());
    BP_CUDA_CHECK(cudaMemsetAsync(velocity_.data(), 0, velocity_.size() * sizeof(float), stream_.get()));
    point_buffers();
  }

  void point_buffers() {
    buffers_ =
        step_buffers(sizes_, output_, layout_, count_, params_.data(), velocity_.size() ? velocity_.data() : nullptr,
                     workspace_.data(), labels_.data(), capacity_);
    if (host_scalars_[0].count == count_) point_scalars(buffers_, host_scalars_[0], scalars_.data());
    graph_.reset();  // it points into the old buffers
  }

  // Queued behind the steps (and graph replays) that use the old values, which read them at run
  // time. The copy may read its pageable source as late as when it runs (CUDA promises no
  // staging for the Async copies), so the full batch's and the last batch's scalars have a host
  // buffer each (slot 0 and 1), kept until train_all() or gradient() synchronises at its end;
  // never called while the stream captures.
  void upload_scalars(StepScalars scalars, int slot) {
    host_scalars_[slot] = std::move(scalars);
    scalars_.upload(host_scalars_[slot].values.data(), host_scalars_[slot].values.size(), stream_.get());
    point_scalars(buffers_, host_scalars_[slot], scalars_.data());
  }

  std::vector<float> download(const DeviceBuffer<float>& flat) {
    std::vector<float> host(flat.size());
    flat.download(host.data(), host.size(), stream_.get());
    stream_.synchronize();
    return host;
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
    return resident_.back();
  }

  void upload_orders(std::span<const uint32_t> orders) {
    if (orders_.size() < orders.size()) orders_ = DeviceBuffer<uint32_t>(orders.size());
    orders_.upload(orders.data(), orders.size(), stream_.get());
  }

  // One step of every network: network k's batch is samples idx[k * si, k * si + m) of d (idx in
  // device memory), with the scalars uploaded last.
  void step(const ResidentData& d, const uint32_t* idx, size_t si, int m, Cost cost) {
    ops_.gather(d.pixels.data(), d.labels.data(), d.dim, idx, si, m, buffers_.a[0], buffers_.input_stride,
                labels_.data(), capacity_, count_, d.expansion);
    update_mini_batch(ops_, buffers_, m, cost, cost_sums_.data());
  }

  void train_resident(const DataView& data, std::span<const uint32_t> orders, size_t length, size_t m,
                      std::span<const Hyper> hypers) {
    const ResidentData& d = resident(data);
    const Cost cost = hypers[0].cost;
    upload_orders(orders);
    upload_scalars(step_scalars(hypers, int(m)), 0);
    const size_t full = length / m;
    size_t done = 0;  // batches
    if (graph_.enabled() && full >= kGraphSteps) {
      if (window_.size() < count_ * kGraphSteps * m) {
        graph_.reset();
        window_ = DeviceBuffer<uint32_t>(count_ * kGraphSteps * m);
      }
      const GraphKey key = graph_key(d, m, cost);
      if (!graph_.holds(key)) {
        // Warm-up: the first step of these shapes runs eagerly, so that cuBLAS's first SGEMMs
        // and the loading of every kernel happen outside stream capture.
        step(d, orders_.data(), length, int(m), cost);
        done = 1;
      }
      for (; done + kGraphSteps <= full; done += kGraphSteps) {
        // Network k's next kGraphSteps * m samples to window_ + k * kGraphSteps * m.
        BP_CUDA_CHECK(cudaMemcpy2DAsync(window_.data(), kGraphSteps * m * sizeof(uint32_t), orders_.data() + done * m,
                                        length * sizeof(uint32_t), kGraphSteps * m * sizeof(uint32_t), count_,
                                        cudaMemcpyDeviceToDevice, stream_.get()));
        const bool replayed = graph_.launch(stream_.get(), key, [&] {
          for (size_t s = 0; s < kGraphSteps; ++s) step(d, window_.data() + s * m, kGraphSteps * m, int(m), cost);
        });
        if (!replayed) break;
      }
    }
    for (; done < full; ++done) step(d, orders_.data() + done * m, length, int(m), cost);
    if (full * m < length) {
      const int last = int(length - full * m);
      upload_scalars(step_scalars(hypers, last), 1);  // queued behind the steps with the full batch's
      step(d, orders_.data() + full * m, length, last, cost);
    }
  }

  // One launch for the whole call: block k runs network k's ceil(length / m) steps.
  void train_fused(const DataView& data, std::span<const uint32_t> orders, size_t length, size_t m,
                   std::span<const Hyper> hypers) {
    const Cost cost = hypers[0].cost;
    check_output_layer(output_, cost);
    const bool momentum = hypers[0].momentum != 0;
    const FusedPlan plan = plan_fused(sizes_, m, momentum, shared_limit_);
    if (!plan.fits()) throw Error(plan.why_not);
    const ResidentData& d = resident(data);
    upload_orders(orders);
    const size_t last = length % m == 0 ? m : length % m;
    fused_scalars_ = step_scalars(hypers, int(m));
    const StepScalars tail = step_scalars(hypers, int(last));
    fused_scalars_.values.insert(fused_scalars_.values.end(), tail.values.begin(), tail.values.end());
    if (fused_scalar_buffer_.size() != fused_scalars_.values.size())
      fused_scalar_buffer_ = DeviceBuffer<float>(fused_scalars_.values.size());
    // train_all() synchronises before returning, and fused_scalars_ outlives the copy till then.
    fused_scalar_buffer_.upload(fused_scalars_.values.data(), fused_scalars_.values.size(), stream_.get());
    const float* scalars = fused_scalar_buffer_.data();
    BP_CUDA_CHECK(kernels::fused_sgd_steps(plan.shape, cost, momentum, fused_scalars_.l2, d.pixels.data(),
                                           d.labels.data(), d.dim, d.expansion, orders_.data(), length, scalars,
                                           scalars + 4 * count_, count_, params_.data(),
                                           momentum ? velocity_.data() : nullptr, cost_sums_.data(), stream_.get()));
  }

  GraphKey graph_key(const ResidentData& d, size_t m, Cost cost) const {
    GraphKey k;
    k.m = m;
    k.dim = d.dim;
    k.count = count_;
    k.images = d.expansion.images;
    k.width = d.expansion.width;
    k.cost = cost;
    k.momentum = buffers_.momentum;
    k.l2_decay = buffers_.l2_decay;
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

  // Network k's samples of stage `start` go to pinned buffer b at k * stage, so that the steps
  // gather network k's batch from the staged images through identity_ + k * stage.
  void train_streamed(const DataView& data, std::span<const uint32_t> orders, size_t length, size_t m,
                      std::span<const Hyper> hypers) {
    const Cost cost = hypers[0].cost;
    const size_t stage = kStageBatches * m;  // samples per network per stage
    for (int b = 0; b < 2; ++b) {
      if (pinned_pixels_[b].size() < count_ * stage * data.dim || pinned_labels_[b].size() < count_ * stage) {
        pinned_pixels_[b] = PinnedBuffer<uint8_t>(count_ * stage * data.dim);
        pinned_labels_[b] = PinnedBuffer<uint8_t>(count_ * stage);
        staged_[b].pixels = DeviceBuffer<uint8_t>(count_ * stage * data.dim);
        staged_[b].labels = DeviceBuffer<uint8_t>(count_ * stage);
      }
      staged_[b].dim = data.dim;
    }
    ensure_identity(identity_, count_ * stage, stream_);
    upload_scalars(step_scalars(hypers, int(m)), 0);
    for (size_t start = 0, n = 0; start < length; start += stage, ++n) {
      const int b = int(n % 2);
      const size_t count = std::min(stage, length - start);
      copied_[b].synchronize();  // the copy out of pinned buffer b two stages ago has finished
      for (size_t k = 0; k < count_; ++k) {
        for (size_t i = 0; i < count; ++i) {
          const uint32_t sample = orders[k * length + start + i];
          uint8_t* to = pinned_pixels_[b].data() + (k * stage + i) * data.dim;
          if (data.shifts)
            data.copy_sample(sample, to);
          else
            std::memcpy(to, data.pixels + size_t(sample) * data.dim, data.dim);
          pinned_labels_[b].data()[k * stage + i] = data.label(sample);
        }
      }
      const size_t used = (count_ - 1) * stage + count;  // up to the last network's last sample
      consumed_[b].wait_on(copy_stream_.get());          // the device is done with staged_[b]
      staged_[b].pixels.upload(pinned_pixels_[b].data(), used * data.dim, copy_stream_.get());
      staged_[b].labels.upload(pinned_labels_[b].data(), used, copy_stream_.get());
      copied_[b].record(copy_stream_.get());
      copied_[b].wait_on(stream_.get());
      for (size_t s = 0; s < count; s += m) {
        const int batch = int(std::min(m, count - s));
        if (batch < int(m)) upload_scalars(step_scalars(hypers, batch), 1);  // the last batch of the call
        step(staged_[b], identity_.data() + s, stage, batch, cost);
      }
      consumed_[b].record(stream_.get());
    }
  }

  const bool streamed_, fused_;
  const size_t shared_limit_ = block_shared_limit();
  StepScalars fused_scalars_;  // a full batch's, then the last batch's, for the device copy below
  DeviceBuffer<float> fused_scalar_buffer_;
  Stream stream_, copy_stream_;
  // Declared before the handle, so destroyed after it (members go in reverse order): cuBLAS
  // may still use its workspace until cublasDestroy, which syncs, has returned.
  DeviceBuffer<uint8_t> blas_workspace_{kCublasWorkspace};
  CublasHandle blas_;
  CudaOps ops_;
  std::vector<size_t> sizes_;
  Output output_ = Output::sigmoid;
  size_t count_ = 0, capacity_ = 0;
  StepLayout layout_;
  DeviceBuffer<float> params_, velocity_, scratch_, workspace_, scalars_, eval_workspace_, eval_input_;
  DeviceBuffer<uint8_t> labels_, eval_labels_;
  DeviceBuffer<double> cost_sums_;
  DeviceBuffer<uint32_t> orders_, window_, identity_;
  StepScalars host_scalars_[2];  // the full batch's, the last batch's (upload_scalars)
  StepBuffers buffers_;
  std::deque<ResidentData> resident_;  // a deque: references handed out stay valid as it grows
  GraphReplay<GraphKey> graph_;
  PinnedBuffer<uint8_t> pinned_pixels_[2], pinned_labels_[2];
  ResidentData staged_[2];
  Event copied_[2], consumed_[2];
};

}  // namespace

size_t cuda_free_memory() {
  if (!cuda_status().usable) return 0;
  size_t free_bytes = 0, total = 0;
  BP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return free_bytes;
}

std::unique_ptr<Backend> make_cuda_backend(bool streamed, bool graphs, CudaEngine engine) {
  const CudaStatus status = cuda_status();
  if (!status.usable) throw UsageError("--device cuda: no usable CUDA device: " + status.reason);
  if (streamed && engine == CudaEngine::fused)
    throw UsageError("--streamed applies to the cuBLAS engine; the fused engine keeps the data on the device");
  return std::make_unique<CudaBackend>(streamed, graphs, engine);
}

std::string fused_engine_why_not(const std::vector<size_t>& sizes, size_t batch) {
  const CudaStatus status = cuda_status();
  if (!status.usable) return "no usable CUDA device: " + status.reason;
  return plan_fused(sizes, batch, false, block_shared_limit())
      .why_not;  // velocities that do not fit stay in global memory
}

}  // namespace bp
