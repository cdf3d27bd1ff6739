// The seam between the trainer and the three executors of the same algorithm: the float64
// reference, the float32 CPU backend and the CUDA backend. A backend holds K >= 1 networks of one
// shape (a single network is K = 1; a sweep's group is more), each with its own copy of the
// parameters (on the device for CUDA) between load_all() and store_all(), and with them, for
// momentum, one velocity per parameter. Every call covers all K networks; each has its own sample
// order and Hyper.
//
// The velocities are training state, not part of the model: load_all() sets them all to zero (and
// a backend allocates them only once a step uses momentum), load_velocities() replaces them after
// a load (resuming a checkpoint), store_velocities() copies them out (zeros if never used). They
// travel as Networks of the same shape, so checkpoints store them like parameters.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "data/dataset.hpp"
#include "model/network.hpp"

namespace bp {

// What evaluation counts over a data set's samples.
struct Evaluation {
  size_t correct = 0;             // classified as their label (argmax of the output)
  std::vector<size_t> predicted;  // predicted[c]: samples classified as c, one per output neuron
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // K networks of the same sizes and output layer.
  virtual void load_all(std::span<const Network> nets) = 0;
  virtual void store_all(std::vector<Network>& nets) = 0;
  virtual void load_velocities(std::span<const Network> velocities) = 0;  // one per network, shaped like it
  virtual void store_velocities(std::vector<Network>& velocities) = 0;

  // Mini-batch SGD: network k visits orders[k * length, (k + 1) * length), length = orders.size() / K
  // (indices of data's samples, see DataView::shifts), in consecutive batches of `batch_size`
  // with hypers[k]; the last batch may be shorter, and is averaged over its own size as network.py
  // does. With momentum > 0 (all networks or none) each step is chapter 3's v = mu v - eta grad;
  // w += v. Returns each network's sum over its visited samples of their cost before the step
  // (the L2 term excluded).
  virtual std::vector<double> train_all(const DataView& data, std::span<const uint32_t> orders, size_t batch_size,
                                        std::span<const Hyper> hypers) = 0;

  // How each network classifies data's samples (argmax of the output), and how many correctly.
  virtual std::vector<Evaluation> evaluate_all(const DataView& data) = 0;

  // The number of minibatches this backend runs best in one train call (the CUDA backend
  // replays graphs of that many steps); the trainer makes its chunks a multiple of it.
  virtual size_t preferred_steps() const { return 1; }

  // The data sets the next train and evaluate calls will read, until the next prepare() (an
  // empty list ends it): a backend may keep a form of their images meanwhile (the CPU backend
  // lists their nonzero pixels once), so the images must not change until then.
  virtual void prepare(std::span<const DataView> views) { (void)views; }

  // The gradient of C = (1/m) sum_x C_x + (lambda / 2n) sum w^2 over the m samples `batch`, into
  // grad (shaped like the network), for a backend holding one network; returns C.
  virtual double gradient(const DataView& data, std::span<const uint32_t> batch, const Hyper& hyper, Network& grad) = 0;

  // One network: the calls above with K = 1 (the reading ones refuse a backend holding more).
  void load(const Network& net) { load_all({&net, 1}); }
  void store(Network& net) { net = one(all(&Backend::store_all)); }
  void load_velocity(const Network& velocity) { load_velocities({&velocity, 1}); }
  void store_velocity(Network& velocity) { velocity = one(all(&Backend::store_velocities)); }
  double train(const DataView& data, std::span<const uint32_t> order, size_t batch_size, const Hyper& hyper) {
    return one(train_all(data, order, batch_size, {&hyper, 1}));
  }
  Evaluation evaluate(const DataView& data) { return one(evaluate_all(data)); }

 private:
  std::vector<Network> all(void (Backend::*get)(std::vector<Network>&)) {
    std::vector<Network> out;
    (this->*get)(out);
    return out;
  }
  template <class T>
  static T one(std::vector<T>&& v) {
    if (v.size() != 1) throw Error("a one-network call on a backend holding " + std::to_string(v.size()) + " networks");
    return std::move(v[0]);
  }
};

// train_all()'s preconditions, shared by every backend: one Hyper per network, orders of equal
// length, one cost, and momentum for all networks or none (the two updates are different
// sequences of operations). Returns the length of each network's order.
inline size_t order_length(std::span<const Hyper> hypers, size_t count, size_t orders) {
  if (count == 0) throw Error("no networks loaded");
  if (hypers.size() != count || orders % count != 0) throw Error("one order of equal length and one Hyper per network");
  for (const Hyper& h : hypers)
    if ((h.momentum != 0) != (hypers[0].momentum != 0) || h.cost != hypers[0].cost)
      throw Error("networks trained together must share the cost and all use momentum or none");
  return orders / count;
}

// load_all()'s: at least one network, all of one shape.
inline void check_one_shape(std::span<const Network> nets) {
  if (nets.empty()) throw Error("no networks to load");
  for (const Network& n : nets)
    if (n.sizes != nets[0].sizes || n.output != nets[0].output)
      throw Error("networks trained together must have one shape");
}

// load_velocities()'s: one per loaded network, each shaped like the networks.
inline void check_velocities(std::span<const Network> velocities, size_t count, const std::vector<size_t>& sizes) {
  if (velocities.size() != count) throw Error("one velocity per loaded network");
  for (const Network& v : velocities)
    if (v.sizes != sizes)
      throw Error("velocities of a " + format_layers(v.sizes) + " network for a " + format_layers(sizes) + " one");
}

}  // namespace bp
