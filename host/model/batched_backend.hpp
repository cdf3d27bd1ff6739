// K networks of one shape trained together on one backend (the GPU's way to fill itself with
// small networks; the CPU's version exists to check the same code). Like Backend, but every call
// covers all K networks: each has its own parameters, velocities, sample order and Hyper.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "data/dataset.hpp"
#include "model/backend.hpp"
#include "model/network.hpp"

namespace bp {

class BatchedBackend {
 public:
  virtual ~BatchedBackend() = default;
  virtual std::string name() const = 0;

  // K networks of the same sizes and output layer (K >= 1); velocities start at zero. `momentum`
  // says whether the steps will use velocities (all networks or none).
  virtual void load(const std::vector<Network>& nets, bool momentum) = 0;
  virtual void store(std::vector<Network>& nets) = 0;
  virtual void store_velocity(std::vector<Network>& velocities) = 0;

  // One SGD pass per network: network k visits orders[k * length .. (k + 1) * length) in batches
  // of batch_size (the last may be shorter) with hypers[k]. Returns each network's sum of sample
  // costs before their step, as Backend::train.
  virtual std::vector<double> train(const DataView& data, std::span<const uint32_t> orders, size_t length,
                                    size_t batch_size, const std::vector<Hyper>& hypers) = 0;

  // The minibatches per call this backend runs best (as Backend::preferred_steps).
  virtual size_t preferred_steps() const { return 1; }

  // Every network's classification of data's samples.
  virtual std::vector<Evaluation> evaluate(const DataView& data) = 0;
};

// train()'s preconditions, shared by every batched backend: one order and one Hyper per network,
// and momentum in the hypers exactly when load() was told to keep velocities (otherwise mu would
// silently scale the plain update's weights).
inline void check_batched_train(const std::vector<Hyper>& hypers, size_t count, size_t orders, size_t length,
                                bool has_velocity) {
  if (hypers.size() != count || orders != count * length) throw Error("one order and Hyper per network");
  for (const Hyper& h : hypers)
    if ((h.momentum != 0) != has_velocity) throw Error("the hypers' momentum does not match the one load() was given");
}

}  // namespace bp
