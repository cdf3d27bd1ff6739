// Chapter 6's expanded training data, made on the fly: every image also used shifted by one pixel
// up, down, left and right (network3's expand_mnist.py), blank (0) where the shift brings in a
// border. A sample index of an expanded set names an image and a variant, so the bytes in memory
// stay those of the original images. Shared by the CPU gather, the CUDA gather kernel and the
// float64 reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/model_math.cuh"

namespace bp {

constexpr unsigned kShiftVariants = 5;  // the image itself, then up, down, left, right

// How the samples of a gather map to images: with images == 0 sample s is image s; otherwise
// sample s is image s % images in variant s / images, the images `width` pixels wide.
struct Expansion {
  size_t images = 0;
  size_t width = 0;
  BP_HD size_t image(size_t s) const { return images == 0 ? s : s % images; }
  BP_HD unsigned variant(size_t s) const { return images == 0 ? 0u : unsigned(s / images); }
};

// Pixel (r, c) of variant v is pixel (r + shift_rows(v), c + shift_cols(v)) of the image: moving
// the picture up means reading from the row below.
BP_HD int shift_rows(unsigned v) { return v == 1 ? 1 : v == 2 ? -1 : 0; }
BP_HD int shift_cols(unsigned v) { return v == 3 ? 1 : v == 4 ? -1 : 0; }

// The image pixel that pixel i of variant v shows, or -1 where it is blank.
BP_HD long shifted_source(size_t i, size_t dim, size_t width, unsigned v) {
  if (v == 0) return long(i);
  const long r = long(i / width) + shift_rows(v), c = long(i % width) + shift_cols(v);
  if (r < 0 || c < 0 || r >= long(dim / width) || c >= long(width)) return -1;
  return r * long(width) + c;
}

}  // namespace bp
