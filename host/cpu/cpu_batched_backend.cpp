// CpuBatchedBackend: K networks' parameters, velocities and workspaces in flat host buffers laid
// out by batched_layout; the batched step over CpuBatchedOps.
#include "cpu/cpu_batched_backend.hpp"

#include <algorithm>
#include <numeric>

#include "base/error.hpp"
#include "cpu/cpu_batched_ops.hpp"
#include "cpu/flush_denormals.hpp"
#include "model/batched_step.hpp"

namespace bp {
namespace {

constexpr size_t kEvalChunk = 1000;

class CpuBatchedBackend final : public BatchedBackend {
 public:
  std::string name() const override { return "cpu (batched)"; }

  void load(const std::vector<Network>& nets, bool momentum) override {
    if (nets.empty()) throw Error("no networks to load");
    sizes_ = nets[0].sizes;
    output_ = nets[0].output;
    count_ = nets.size();
    layout_ = batched_layout(sizes_, 1, false);
    params_.assign(count_ * layout_.param_stride, 0.0f);
    velocity_.assign(momentum ? params_.size() : 0, 0.0f);
    for (size_t k = 0; k < count_; ++k) {
      if (nets[k].sizes != sizes_ || nets[k].output != output_) throw Error("networks trained together must have one shape");
      flatten(nets[k], layout_.one, params_.data() + k * layout_.param_stride);
    }
    capacity_ = 0;
  }

  void store(std::vector<Network>& nets) override { unflatten_all(params_, nets); }

  void store_velocity(std::vector<Network>& velocities) override {
    if (velocity_.empty()) {
      velocities.assign(count_, zero_network(sizes_));
      return;
    }
    unflatten_all(velocity_, velocities);
  }

  std::vector<double> train(const DataView& data, std::span<const uint32_t> orders, size_t length, size_t batch_size,
                            const std::vector<Hyper>& hypers) override {
    check_batched_train(hypers, count_, orders.size(), length, !velocity_.empty());
    reserve(batch_size);
    const FlushDenormals ftz;
    std::vector<double> costs(count_, 0.0);
    for (size_t start = 0; start < length; start += batch_size) {
      const int m = int(std::min(batch_size, length - start));
      scalars_ = batched_scalars(hypers, m);
      point_scalars(buffers_);
      ops_.gather(data.pixels, data.labels, data.dim, orders.data() + start, length, m, buffers_.first.a[0],
                  buffers_.input_stride, labels_.data(), capacity_, count_, data.expansion());
      update_mini_batch_batched(ops_, buffers_, m, hypers[0].cost, costs.data());
    }
    return costs;
  }

  std::vector<Evaluation> evaluate(const DataView& data) override {
    const BatchedLayout layout = batched_layout(sizes_, kEvalChunk, true);
    std::vector<float> workspace(count_ * layout.work_stride), input(kEvalChunk * data.dim);
    std::vector<uint8_t> labels(kEvalChunk);
    const BatchedBuffers b = batched_buffers(sizes_, output_, layout, count_, params_.data(), nullptr, workspace.data(),
                                             input.data(), labels.data(), 0);
    const FlushDenormals ftz;
    const int classes = int(sizes_.back());
    std::vector<uint64_t> counts(count_ * (classes + 1), 0);
    std::vector<uint32_t> idx(kEvalChunk);
    for (size_t start = 0; start < data.samples(); start += kEvalChunk) {
      const int m = int(std::min(kEvalChunk, data.samples() - start));
      std::iota(idx.begin(), idx.begin() + m, uint32_t(start));
      ops_.one_.gather(data.pixels, data.labels, data.dim, idx.data(), m, input.data(), labels.data(), data.expansion());
      feedforward_batched(ops_, b, m);
      ops_.count_predictions(classes, m, b.first.a.back(), b.work_stride, labels.data(), counts.data(), count_);
    }
    std::vector<Evaluation> out(count_);
    for (size_t k = 0; k < count_; ++k) {
      const uint64_t* c = counts.data() + k * (classes + 1);
      out[k] = {size_t(c[classes]), std::vector<size_t>(c, c + classes)};
    }
    return out;
  }

 private:
  void reserve(size_t columns) {
    if (columns <= capacity_) return;
    capacity_ = columns;
    const BatchedLayout layout = batched_layout(sizes_, capacity_, false);
    layout_.one = layout.one;  // the parameter offsets do not depend on the capacity
    layout_.work_stride = layout.work_stride;
    workspace_.assign(count_ * layout_.work_stride, 0.0f);
    labels_.assign(count_ * capacity_, 0);
    buffers_ = batched_buffers(sizes_, output_, layout_, count_, params_.data(),
                               velocity_.empty() ? nullptr : velocity_.data(), workspace_.data(), nullptr,
                               labels_.data(), capacity_);
  }

  void point_scalars(BatchedBuffers& b) const {
    b.alpha = scalars_.alpha();
    b.beta_w = scalars_.beta_w();
    b.beta_b = scalars_.beta_b();
    b.l2 = scalars_.l2();
  }

  void unflatten_all(const std::vector<float>& flat, std::vector<Network>& nets) const {
    nets.assign(count_, zero_network(sizes_));
    for (size_t k = 0; k < count_; ++k) {
      nets[k].output = output_;
      unflatten(flat.data() + k * layout_.param_stride, layout_.one, nets[k]);
    }
  }

  CpuBatchedOps ops_;
  std::vector<size_t> sizes_;
  Output output_ = Output::sigmoid;
  size_t count_ = 0, capacity_ = 0;
  BatchedLayout layout_;
  std::vector<float> params_, velocity_, workspace_;
  std::vector<uint8_t> labels_;
  BatchedScalars scalars_;
  BatchedBuffers buffers_;
};

}  // namespace

std::unique_ptr<BatchedBackend> make_cpu_batched_backend() { return std::make_unique<CpuBatchedBackend>(); }

}  // namespace bp
