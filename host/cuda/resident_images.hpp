// A data set's images and labels copied to the device once, remembered by the host view they came
// from (both host addresses, the count and the image size: a view with other labels, such as
// --shuffle-labels, or a longer view of the same pixels is another data set); and the identity
// index list that gathers in sample order read. Shared by the single and batched CUDA backends.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include "cuda/device_buffer.hpp"
#include "data/dataset.hpp"

namespace bp {

struct ResidentImages {
  const uint8_t* host_pixels = nullptr;
  const uint8_t* host_labels = nullptr;
  size_t count = 0, dim = 0;
  DeviceBuffer<uint8_t> pixels, labels;

  bool holds(const DataView& v) const {
    return host_pixels == v.pixels && host_labels == v.labels && count == v.count && dim == v.dim;
  }
};

// v's bytes on the device, uploaded on `stream` and waited for.
inline ResidentImages upload_images(const DataView& v, const Stream& stream) {
  ResidentImages r;
  r.host_pixels = v.pixels;
  r.host_labels = v.labels;
  r.count = v.count;
  r.dim = v.dim;
  r.pixels = DeviceBuffer<uint8_t>(v.count * v.dim);
  r.labels = DeviceBuffer<uint8_t>(v.count);
  r.pixels.upload(v.pixels, v.count * v.dim, stream.get());
  r.labels.upload(v.labels, v.count, stream.get());
  stream.synchronize();
  return r;
}

// identity[i] = i for i < n at least, for gathers that read samples in order; regrown (on
// `stream`, waited for) only when shorter.
inline void ensure_identity(DeviceBuffer<uint32_t>& identity, size_t n, const Stream& stream) {
  if (identity.size() >= n) return;
  std::vector<uint32_t> host(n);
  std::iota(host.begin(), host.end(), 0u);
  identity = DeviceBuffer<uint32_t>(n);
  identity.upload(host.data(), n, stream.get());
  stream.synchronize();
}

}  // namespace bp
