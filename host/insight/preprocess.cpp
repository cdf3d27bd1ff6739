// See preprocess.hpp. Scaling averages the source over each target pixel's footprint (4x4 bilinear
// samples), which keeps thin strokes from vanishing when a large photo shrinks to 20 pixels.
#include "insight/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "base/error.hpp"

namespace bp {
namespace {

constexpr size_t kField = 28, kBox = 20;
constexpr float kInkThreshold = 0.25f;  // of the contrast range, for the bounding box

float bilinear(const std::vector<float>& img, size_t w, size_t h, float x, float y) {
  x = std::clamp(x, 0.0f, float(w - 1));
  y = std::clamp(y, 0.0f, float(h - 1));
  const size_t x0 = size_t(x), y0 = size_t(y), x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const float fx = x - float(x0), fy = y - float(y0);
  const float top = img[y0 * w + x0] * (1 - fx) + img[y0 * w + x1] * fx;
  const float bottom = img[y1 * w + x0] * (1 - fx) + img[y1 * w + x1] * fx;
  return top * (1 - fy) + bottom * fy;
}

}  // namespace

Prepared prepare_digit(const GreyImage& image) {
  const size_t w = image.width, h = image.height;
  if (w == 0 || h == 0) throw Error("empty image");
  Prepared out;
  // The border tells the background: mostly light means dark ink on paper.
  double border = 0;
  size_t count = 0;
  for (size_t x = 0; x < w; ++x) border += image.at(x, 0) + image.at(x, h - 1), count += 2;
  for (size_t y = 0; y < h; ++y) border += image.at(0, y) + image.at(w - 1, y), count += 2;
  out.inverted = border / double(count) > 0.5;
  std::vector<float> ink(w * h);
  for (size_t i = 0; i < w * h; ++i) ink[i] = out.inverted ? 1.0f - image.pixels[i] : image.pixels[i];
  // Stretch the contrast: the background level becomes 0, the strongest ink 1.
  std::vector<float> sorted(ink);
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const float background = sorted[sorted.size() / 2], top = *std::max_element(ink.begin(), ink.end());
  if (top - background < 0.05f) throw Error("no ink found (the picture is nearly uniform)");
  for (float& v : ink) v = std::clamp((v - background) / (top - background), 0.0f, 1.0f);

  size_t x0 = w, y0 = h, x1 = 0, y1 = 0;
  for (size_t y = 0; y < h; ++y)
    for (size_t x = 0; x < w; ++x)
      if (ink[y * w + x] > kInkThreshold)
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
  out.ink_box = {x0, y0, x1, y1};
  const size_t bw = x1 - x0, bh = y1 - y0;
  const float scale = float(kBox) / float(std::max(bw, bh));
  const size_t tw = std::max<size_t>(1, size_t(std::lround(float(bw) * scale)));
  const size_t th = std::max<size_t>(1, size_t(std::lround(float(bh) * scale)));

  // Box-filtered resampling of the ink box into tw x th.
  std::vector<float> small(tw * th);
  for (size_t ty = 0; ty < th; ++ty) {
    for (size_t tx = 0; tx < tw; ++tx) {
      float sum = 0;
      for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx)
          sum += bilinear(ink, w, h, float(x0) + (float(tx) + (float(sx) + 0.5f) / 4) / scale - 0.5f,
                          float(y0) + (float(ty) + (float(sy) + 0.5f) / 4) / scale - 0.5f);
      small[ty * tw + tx] = sum / 16;
    }
  }
  // Centre of mass to the middle of the 28x28 field.
  double mass = 0, cx = 0, cy = 0;
  for (size_t y = 0; y < th; ++y)
    for (size_t x = 0; x < tw; ++x)
      mass += small[y * tw + x], cx += (double(x) + 0.5) * small[y * tw + x],
          cy += (double(y) + 0.5) * small[y * tw + x];
  // Strokes far thinner than the box's shrink factor fall between the samples: nothing is left to
  // read, and a prediction from an empty field would be a guess.
  const std::string too_thin =
      "no ink left at 28x28 (the strokes are too thin for a picture this size; draw them "
      "thicker or crop the picture)";
  if (!(mass > 0)) throw Error(too_thin);
  cx /= mass;
  cy /= mass;
  const long ox = std::clamp(std::lround(double(kField) / 2 - cx), 0L, long(kField - tw));
  const long oy = std::clamp(std::lround(double(kField) / 2 - cy), 0L, long(kField - th));
  out.pixels.assign(kField * kField, 0);
  for (size_t y = 0; y < th; ++y)
    for (size_t x = 0; x < tw; ++x)
      out.pixels[(size_t(oy) + y) * kField + size_t(ox) + x] = uint8_t(std::lround(small[y * tw + x] * 255.0f));
  if (std::all_of(out.pixels.begin(), out.pixels.end(), [](uint8_t p) { return p == 0; })) throw Error(too_thin);
  return out;
}

std::string ascii_art(const std::vector<uint8_t>& pixels, size_t width) {
  static const char ramp[] = " .:-=+*#%@";
  std::string out;
  for (size_t y = 0; y * width < pixels.size(); ++y) {
    for (size_t x = 0; x < width; ++x) {
      const char c = ramp[pixels[y * width + x] * 9 / 255];
      out += c;
      out += c;
    }
    out += '\n';
  }
  return out;
}

}  // namespace bp
