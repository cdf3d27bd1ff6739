// CpuBackend: K networks' parameters, velocities and workspaces in flat host buffers laid out by
// step_layout; minibatches gathered from the byte images as they are needed, as lists of their
// nonzero pixels where the kernel path can use them (CpuOps::gather_input). A single network is
// K = 1 and runs exactly the tuned kernels; K networks run them one network after another.
#include "cpu/cpu_backend.hpp"

#include <algorithm>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "base/aligned_vector.hpp"
#include "base/error.hpp"
#include "cpu/cpu_listed_images.hpp"
#include "cpu/cpu_ops.hpp"
#include "cpu/flush_denormals.hpp"
#include "model/step.hpp"

namespace bp {
namespace {

static_assert(StepOps<CpuOps>);

// Images per evaluation pass: the chunk's widened pixel lists (~1.2 KB an image) then stay in L2
// between the listing and the forward product. Measured (BM_Evaluate, 784-30-10, four interleaved
// rounds): 1,000 images 3.4 ms per 10,000, 512 3.1, 256 3.0, 128 3.2.
constexpr size_t kEvalChunk = 256;

// The CPU backend's layout: weight columns padded to cache lines (see step_layout). Training's
// and evaluation's workspaces differ in capacity and input only, so their parameter offsets agree.
StepLayout cpu_layout(const std::vector<size_t>& sizes, size_t capacity, bool shared_input = false) {
  return step_layout(sizes, capacity, kCacheLineFloats, shared_input);
}

class CpuBackend final : public Backend {
 public:
  // threads 0: every core.
  explicit CpuBackend(int threads)
      : threads_(threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()))) {
    set_blas_threads(threads);
  }
  std::string name() const override { return "cpu"; }

  void load_all(std::span<const Network> nets) override {
    check_one_shape(nets);
    sizes_ = nets[0].sizes;
    output_ = nets[0].output;
    count_ = nets.size();
    capacity_ = 0;
    params_.clear();  // zero padding (step_layout), whatever the previous networks left there
    velocity_.clear();
    reserve(1);
    for (size_t k = 0; k < count_; ++k) flatten(nets[k], layout_, params_.data() + k * layout_.param_stride);
  }

  void store_all(std::vector<Network>& nets) override {
    nets = unflatten_all(params_.data(), layout_, count_, sizes_, output_);
  }

  void load_velocities(std::span<const Network> velocities) override {
    check_velocities(velocities, count_, sizes_);
    ensure_velocity();
    for (size_t k = 0; k < count_; ++k) flatten(velocities[k], layout_, velocity_.data() + k * layout_.param_stride);
  }

  void store_velocities(std::vector<Network>& velocities) override {
    if (velocity_.empty()) {
      velocities.assign(count_, zero_network(sizes_));
      return;
    }
    velocities = unflatten_all(velocity_.data(), layout_, count_, sizes_, Output::sigmoid);
  }

  std::vector<double> train_all(const DataView& data, std::span<const uint32_t> orders, size_t batch_size,
                                std::span<const Hyper> hypers) override {
    const size_t length = order_length(hypers, count_, orders.size());
    reserve(batch_size);
    if (hypers[0].momentum != 0) ensure_velocity();
    const FlushDenormals ftz;
    std::vector<double> costs(count_, 0.0);
    const ListedImages* lists = lists_for(data);
    for (size_t start = 0; start < length; start += batch_size) {
      const int m = int(std::min(batch_size, length - start));
      if (start == 0 || m != int(batch_size)) set_scalars(step_scalars(hypers, m));
      ops_.gather_input(data.pixels, data.labels, data.dim, orders.data() + start, length, m, buffers_.a[0],
                        buffers_.input_stride, labels_.data(), capacity_, count_, data.expansion(), lists);
      const size_t next = start + batch_size;
      if (next < length) {
        const int m_next = int(std::min(batch_size, length - next));
        for (size_t k = 0; k < count_; ++k) {
          const uint32_t* idx = orders.data() + k * length + next;
          if (lists)
            ops_.prefetch(*lists, idx, m_next, data.expansion());
          else
            ops_.prefetch(data.pixels, data.dim, idx, m_next, data.expansion());
        }
      }
      update_mini_batch(ops_, buffers_, m, hypers[0].cost, costs.data());
    }
    return costs;
  }

  // In chunks of kEvalChunk images, gathered once for all networks, through the step's
  // feedforward; with more than one thread the images are split into contiguous parts, one per
  // thread, each with its own workspace (the parameters are only read). The counts are sums, so
  // the split changes no result.
  std::vector<Evaluation> evaluate_all(const DataView& data) override {
    if (count_ == 0) throw Error("no networks loaded");
    const size_t classes = sizes_.back(), per_part = count_ * (classes + 1);  // per network: per class, then correct
    const size_t chunks = (data.samples() + kEvalChunk - 1) / kEvalChunk;
    const size_t parts = std::min<size_t>(size_t(std::max(threads_, 1)), std::max<size_t>(chunks / 2, 1));
    std::vector<std::vector<uint64_t>> counts(parts, std::vector<uint64_t>(per_part, 0));
    const auto part_begin = [&](size_t t) { return std::min(data.samples(), chunks * t / parts * kEvalChunk); };
    while (eval_parts_.size() < parts) eval_parts_.push_back(std::make_unique<EvalPart>());
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < parts; ++t)
      helpers.emplace_back(
          [&, t] { evaluate_part(*eval_parts_[t], data, part_begin(t), part_begin(t + 1), counts[t].data()); });
    evaluate_part(*eval_parts_[0], data, part_begin(0), part_begin(1), counts[0].data());
    for (std::thread& h : helpers) h.join();
    for (size_t t = 1; t < parts; ++t)
      for (size_t c = 0; c < per_part; ++c) counts[0][c] += counts[t][c];
    std::vector<Evaluation> out(count_);
    for (size_t k = 0; k < count_; ++k) {
      const uint64_t* c = counts[0].data() + k * (classes + 1);
      out[k] = {size_t(c[classes]), std::vector<size_t>(c, c + classes)};
    }
    return out;
  }

  double gradient(const DataView& data, std::span<const uint32_t> batch, const Hyper& hyper, Network& grad) override {
    if (count_ != 1) throw Error("gradient() takes a backend holding one network");
    const int m = int(batch.size());
    reserve(batch.size());
    CacheAlignedVector<float> g(layout_.param_stride);
    const ParameterViews gv = parameter_views(layout_, g.data());
    set_scalars(gradient_scalars({&hyper, 1}, m));
    ops_.gather_input(data.pixels, data.labels, data.dim, batch.data(), 0, m, buffers_.a[0], buffers_.input_stride,
                      labels_.data(), capacity_, 1, data.expansion());
    double cost = 0;
    mean_gradient(ops_, buffers_, m, hyper.cost, gv.w, gv.b, &cost);
    Network current;
    store(current);
    return finish_gradient(g.data(), layout_, current, cost, m, hyper, grad);
  }

  void prepare(std::span<const DataView> views) override {
    lists_.clear();
    for (const DataView& view : views)
      if (!lists_for(view))
        if (auto l = shared_list_images(view)) lists_.push_back(std::move(l));
  }

 private:
  // The lists prepare() made for data's images, if any.
  const ListedImages* lists_for(const DataView& data) const {
    for (const auto& l : lists_)
      if (l->covers(data)) return l.get();
    return nullptr;
  }

  // Grows the workspace to hold `columns` samples per network, keeping the parameters.
  void reserve(size_t columns) {
    if (columns <= capacity_) return;
    capacity_ = columns;
    ops_.forget_input();
    layout_ = cpu_layout(sizes_, capacity_);
    params_.resize(count_ * layout_.param_stride);
    workspace_.assign(count_ * layout_.work_stride, 0.0f);
    labels_.assign(count_ * capacity_, 0);
    point_buffers();
  }

  // Zero velocities, from the first step with momentum (or load_velocities) until the next load.
  void ensure_velocity() {
    if (!velocity_.empty()) return;
    velocity_.assign(params_.size(), 0.0f);
    point_buffers();
  }

  void point_buffers() {
    buffers_ =
        step_buffers(sizes_, output_, layout_, count_, params_.data(), velocity_.empty() ? nullptr : velocity_.data(),
                     workspace_.data(), labels_.data(), capacity_);
    if (scalars_.count == count_) point_scalars(buffers_, scalars_, scalars_.values.data());
  }

  void set_scalars(StepScalars scalars) {
    scalars_ = std::move(scalars);
    point_scalars(buffers_, scalars_, scalars_.values.data());
  }

  // A thread's evaluation workspace (one input shared by the K networks) and CpuOps, kept from one
  // evaluation to the next: made afresh each time, their ~9 MB were zeroed again every call (3% of
  // a whole run at --threads 2).
  struct EvalPart {
    CacheAlignedVector<float> workspace, input;
    std::vector<uint8_t> labels;
    CpuOps ops;
  };

  // Images [begin, end) of `data` through every network; counts as in evaluate_all().
  void evaluate_part(EvalPart& part, const DataView& data, size_t begin, size_t end, uint64_t* counts) const {
    const FlushDenormals ftz;
    // The parameters' offsets depend on the sizes (and cpu_layout's padding) only, so this
    // layout's match params_.
    const StepLayout layout = cpu_layout(sizes_, kEvalChunk, true);
    if (part.workspace.size() != count_ * layout.work_stride) part.workspace.assign(count_ * layout.work_stride, 0.0f);
    if (part.input.size() != kEvalChunk * data.dim) part.input.assign(kEvalChunk * data.dim, 0.0f);
    part.labels.resize(kEvalChunk);
    float* params = const_cast<float*>(params_.data());
    const StepBuffers buffers = step_buffers(sizes_, output_, layout, count_, params, nullptr, part.workspace.data(),
                                             part.labels.data(), 0, part.input.data());
    part.ops.forget_input();
    std::vector<uint32_t> idx(kEvalChunk);
    const int classes = int(sizes_.back());
    for (size_t start = begin; start < end; start += kEvalChunk) {
      const int m = int(std::min(kEvalChunk, end - start));
      std::iota(idx.begin(), idx.begin() + m, uint32_t(start));
      part.ops.gather_input(data.pixels, data.labels, data.dim, idx.data(), 0, m, buffers.a[0], 0, part.labels.data(),
                            0, count_, data.expansion(), lists_for(data));
      feedforward(part.ops, buffers, m);
      part.ops.count_predictions(classes, m, buffers.a.back(), buffers.work_stride, part.labels.data(), counts, count_);
    }
  }

  int threads_;
  CpuOps ops_;
  std::vector<size_t> sizes_;
  Output output_ = Output::sigmoid;
  size_t count_ = 0, capacity_ = 0;
  StepLayout layout_;
  CacheAlignedVector<float> params_, velocity_, workspace_;
  std::vector<uint8_t> labels_;
  StepScalars scalars_;
  StepBuffers buffers_;
  std::vector<std::shared_ptr<const ListedImages>> lists_;  // see prepare()
  std::vector<std::unique_ptr<EvalPart>> eval_parts_;       // evaluate_all()'s, one per thread
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace bp
