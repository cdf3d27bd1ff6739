// The seam between the trainer and the three executors of the same algorithm: the float64
// reference, the float32 CPU backend and the CUDA backend. A backend holds its own copy of the
// parameters (on the device for CUDA) between load() and store(), and with them, for momentum,
// one velocity per parameter.
//
// The velocities are training state, not part of the model: load() sets them all to zero (and a
// backend allocates them only once a step uses momentum), load_velocity() replaces them after a
// load() (resuming a checkpoint), store_velocity() copies them out (zeros if never used). They
// travel as a Network of the same shape, so checkpoints store them like parameters.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "model/network.hpp"

namespace bp {

// What evaluation counts over a data set's samples.
struct Evaluation {
  size_t correct = 0;               // classified as their label (argmax of the output)
  std::vector<size_t> predicted;    // predicted[c]: samples classified as c, one per output neuron
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  virtual void load(const Network& net) = 0;
  virtual void store(Network& net) = 0;
  virtual void load_velocity(const Network& velocity) = 0;  // shaped like the loaded network
  virtual void store_velocity(Network& velocity) = 0;

  // Mini-batch SGD over `order` (indices of data's samples, see DataView::shifts), in consecutive batches of `batch_size`; the
  // last batch may be shorter, and is averaged over its own size as network.py does. With
  // hyper.momentum > 0 each step is chapter 3's v = mu v - eta grad; w += v. Returns the
  // sum over the visited samples of their cost before the step (the L2 term excluded).
  virtual double train(const DataView& data, std::span<const uint32_t> order, size_t batch_size,
                       const Hyper& hyper) = 0;

  // The number of minibatches this backend runs best in one train() call (the CUDA backend
  // replays graphs of that many steps); the trainer makes its chunks a multiple of it.
  virtual size_t preferred_steps() const { return 1; }

  // The data sets the next train() and evaluate() calls will read, until the next prepare() (an
  // empty list ends it): a backend may keep a form of their images meanwhile (the CPU backend
  // lists their nonzero pixels once), so the images must not change until then.
  virtual void prepare(std::span<const DataView> views) { (void)views; }

  // How data's samples are classified (argmax of the output), and how many correctly.
  virtual Evaluation evaluate(const DataView& data) = 0;

  // The gradient of C = (1/m) sum_x C_x + (lambda / 2n) sum w^2 over the m samples `batch`, into
  // grad (shaped like the network); returns C.
  virtual double gradient(const DataView& data, std::span<const uint32_t> batch, const Hyper& hyper,
                          Network& grad) = 0;
};

}  // namespace bp
