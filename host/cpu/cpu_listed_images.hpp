// A data set's images as lists of their nonzero pixels, made once for a whole run
// (Backend::prepare): the step then copies a sample's list instead of finding the nonzero
// pixels of its 784 bytes again every epoch, and reads about half the bytes. Compact: a pixel is
// a 16-bit position and its byte; CpuOps::gather_input widens them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.hpp"

namespace bp {

struct ListedImages {
  const uint8_t* pixels = nullptr;  // the images listed (a key: the bytes must not change meanwhile)
  size_t count = 0, dim = 0;
  std::vector<uint16_t> index;  // positions of the nonzero pixels, image after image (and padding)
  std::vector<uint8_t> value;   // their bytes
  std::vector<uint32_t> start;  // image i's entries are [start[i], start[i + 1])

  // Whether these are the lists of view's images (its shifted samples are made from them).
  bool covers(const DataView& view) const {
    return pixels && view.pixels == pixels && view.count == count && view.dim == dim;
  }
};

// The lists of view's images, or none (covers nothing) where they would not pay or not fit: a
// kernel path without sparse-input kernels, images of more than 65,536 pixels, or images with more
// than half their pixels nonzero on average. A view with shifts gets its images' lists.
ListedImages list_images(const DataView& view);

// list_images(view), shared: backends that prepare the same images at the same time (a sweep's
// networks, one per core) get one copy, kept while any of them holds it. Null where
// list_images makes none.
std::shared_ptr<const ListedImages> shared_list_images(const DataView& view);

}  // namespace bp
