// The seam between the trainer and the three executors of the same algorithm: the float64
// reference, the float32 CPU backend and the CUDA backend. A backend holds its own copy of the
// parameters (on the device for CUDA) between load() and store().
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

  // Mini-batch SGD over `order` (indices of data's samples, see DataView::shifts), in consecutive batches of `batch_size`; the
  // last batch may be shorter, and is averaged over its own size as network.py does. Returns the
  // sum over the visited samples of their cost before the step (the L2 term excluded).
  virtual double train(const DataView& data, std::span<const uint32_t> order, size_t batch_size,
                       const Hyper& hyper) = 0;

  // How data's samples are classified (argmax of the output), and how many correctly.
  virtual Evaluation evaluate(const DataView& data) = 0;

  // The gradient of C = (1/m) sum_x C_x + (lambda / 2n) sum w^2 over the m samples `batch`, into
  // grad (shaped like the network); returns C.
  virtual double gradient(const DataView& data, std::span<const uint32_t> batch, const Hyper& hyper,
                          Network& grad) = 0;
};

}  // namespace bp
