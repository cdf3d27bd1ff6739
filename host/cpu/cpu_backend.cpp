// CpuBackend: parameters and workspace in flat host buffers laid out by step_layout; minibatches
// gathered from the byte images as they are needed, as lists of their nonzero pixels where the
// kernel path can use them (CpuOps::gather_input).
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
// and evaluation's workspaces differ in capacity only, so their parameter offsets agree.
StepLayout cpu_layout(const std::vector<size_t>& sizes, size_t capacity) {
  return step_layout(sizes, capacity, kCacheLineFloats);
}

class CpuBackend final : public Backend {
 public:
  // threads 0: every core.
  explicit CpuBackend(int threads)
      : threads_(threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()))) {
    set_blas_threads(threads);
  }
  std::string name() const override { return "cpu"; }

  void load(const Network& net) override {
    sizes_ = net.sizes;
    output_ = net.output;
    capacity_ = 0;
    params_.clear();  // zero padding (step_layout), whatever the previous network left there
    velocity_.clear();
    reserve(1);
    flatten(net, layout_, params_.data());
  }

  void store(Network& net) override {
    net = zero_network(sizes_);
    net.output = output_;
    unflatten(params_.data(), layout_, net);
  }

  void load_velocity(const Network& velocity) override {
    if (velocity.sizes != sizes_) throw Error("velocities of a " + format_layers(velocity.sizes) + " network for a " +
                                              format_layers(sizes_) + " one");
    ensure_velocity();
    flatten(velocity, layout_, velocity_.data());
  }

  void store_velocity(Network& velocity) override {
    velocity = zero_network(sizes_);
    if (!velocity_.empty()) unflatten(velocity_.data(), layout_, velocity);
  }

  double train(const DataView& data, std::span<const uint32_t> order, size_t batch_size,
               const Hyper& hyper) override {
    reserve(batch_size);
    if (hyper.momentum != 0) ensure_velocity();
    const FlushDenormals ftz;
    double cost = 0;
    const ListedImages* lists = lists_for(data);
    for (size_t start = 0; start < order.size(); start += batch_size) {
      const int m = int(std::min(batch_size, order.size() - start));
      ops_.gather_input(data.pixels, data.labels, data.dim, order.data() + start, m, buffers_.a[0], labels_.data(),
                        data.expansion(), lists);
      const size_t next = start + batch_size;
      if (next < order.size()) {
        const int m_next = int(std::min(batch_size, order.size() - next));
        if (lists)
          ops_.prefetch(*lists, order.data() + next, m_next, data.expansion());
        else
          ops_.prefetch(data.pixels, data.dim, order.data() + next, m_next, data.expansion());
      }
      update_mini_batch(ops_, buffers_, m, hyper, &cost);
    }
    return cost;
  }

  // In chunks of kEvalChunk images through the step's feedforward; with more than one thread the
  // images are split into contiguous parts, one per thread, each with its own workspace (the
  // parameters are only read). The counts are sums, so the split changes no result.
  Evaluation evaluate(const DataView& data) override {
    const int classes = int(sizes_.back());
    const size_t chunks = (data.samples() + kEvalChunk - 1) / kEvalChunk;
    const size_t parts = std::min<size_t>(size_t(std::max(threads_, 1)), std::max<size_t>(chunks / 2, 1));
    std::vector<std::vector<uint64_t>> counts(parts, std::vector<uint64_t>(classes + 1, 0));  // per class, then correct
    const auto part_begin = [&](size_t t) { return std::min(data.samples(), chunks * t / parts * kEvalChunk); };
    while (eval_parts_.size() + 1 < parts) eval_parts_.push_back(std::make_unique<EvalPart>());
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < parts; ++t)
      helpers.emplace_back([&, t] {
        evaluate_part(*eval_parts_[t - 1], data, part_begin(t), part_begin(t + 1), counts[t].data());
      });
    reserve(kEvalChunk);
    evaluate_range(ops_, buffers_, labels_.data(), data, part_begin(0), part_begin(1), counts[0].data());
    for (std::thread& h : helpers) h.join();
    for (size_t t = 1; t < parts; ++t)
      for (int c = 0; c <= classes; ++c) counts[0][c] += counts[t][c];
    return {size_t(counts[0][classes]), std::vector<size_t>(counts[0].begin(), counts[0].end() - 1)};
  }

  double gradient(const DataView& data, std::span<const uint32_t> batch, const Hyper& hyper,
                  Network& grad) override {
    const int m = int(batch.size());
    reserve(batch.size());
    CacheAlignedVector<float> g(layout_.parameter_floats);
    const ParameterViews gv = parameter_views(layout_, g.data());
    ops_.gather_input(data.pixels, data.labels, data.dim, batch.data(), m, buffers_.a[0], labels_.data(),
                      data.expansion());
    double cost = 0;
    mean_gradient(ops_, buffers_, m, hyper, gv.w, gv.b, &cost);
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

  // Grows the workspace to hold `columns` samples, keeping the parameters.
  void reserve(size_t columns) {
    if (columns <= capacity_) return;
    capacity_ = columns;
    ops_.forget_input();
    layout_ = cpu_layout(sizes_, capacity_);
    params_.resize(layout_.parameter_floats);
    workspace_.assign(layout_.workspace_floats, 0.0f);
    labels_.assign(capacity_, 0);
    point_buffers();
  }

  // Zero velocities, from the first step with momentum (or load_velocity) until the next load().
  void ensure_velocity() {
    if (!velocity_.empty()) return;
    velocity_.assign(layout_.parameter_floats, 0.0f);
    point_buffers();
  }

  // Images [begin, end) of `data` through the network with the given workspace; counts as in evaluate().
  void evaluate_range(CpuOps& ops, const StepBuffers& buffers, uint8_t* labels, const DataView& data, size_t begin,
                      size_t end, uint64_t* counts) const {
    const FlushDenormals ftz;
    std::vector<uint32_t> idx(kEvalChunk);
    const int classes = int(sizes_.back());
    for (size_t start = begin; start < end; start += kEvalChunk) {
      const int m = int(std::min(kEvalChunk, end - start));
      std::iota(idx.begin(), idx.begin() + m, uint32_t(start));
      ops.gather_input(data.pixels, data.labels, data.dim, idx.data(), m, buffers.a[0], labels, data.expansion(),
                       lists_for(data));
      feedforward(ops, buffers, m);
      ops.count_predictions(classes, m, buffers.a.back(), labels, counts);
    }
  }

  // A helper thread's workspace and CpuOps, kept from one evaluation to the next: made afresh
  // each time, their ~9 MB were zeroed again every call (3% of a whole run at --threads 2).
  struct EvalPart {
    CacheAlignedVector<float> workspace;
    std::vector<uint8_t> labels;
    CpuOps ops;
  };

  // evaluate_range on a workspace of its own, for a helper thread.
  void evaluate_part(EvalPart& part, const DataView& data, size_t begin, size_t end, uint64_t* counts) const {
    const StepLayout layout = cpu_layout(sizes_, kEvalChunk);
    if (part.workspace.size() != layout.workspace_floats) part.workspace.assign(layout.workspace_floats, 0.0f);
    part.labels.resize(kEvalChunk);
    // The parameters' offsets depend on the sizes (and cpu_layout's padding) only, so this
    // layout's match params_.
    float* params = const_cast<float*>(params_.data());
    const StepBuffers buffers =
        step_buffers(sizes_, output_, layout, params, nullptr, part.workspace.data(), part.labels.data());
    part.ops.forget_input();
    evaluate_range(part.ops, buffers, part.labels.data(), data, begin, end, counts);
  }

  void point_buffers() {
    buffers_ = step_buffers(sizes_, output_, layout_, params_.data(), velocity_.empty() ? nullptr : velocity_.data(),
                            workspace_.data(), labels_.data());
  }

  int threads_;
  CpuOps ops_;
  std::vector<size_t> sizes_;
  Output output_ = Output::sigmoid;
  size_t capacity_ = 0;
  StepLayout layout_;
  CacheAlignedVector<float> params_, velocity_, workspace_;
  std::vector<uint8_t> labels_;
  StepBuffers buffers_;
  std::vector<std::shared_ptr<const ListedImages>> lists_;  // see prepare()
  std::vector<std::unique_ptr<EvalPart>> eval_parts_;       // evaluate()'s helpers' (parts 1, 2, ...)
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace bp
