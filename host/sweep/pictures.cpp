// See pictures.hpp. Drawn on an RgbImage with the built-in digit font of insight/pictures and
// written with libpng through insight/image.
#include "sweep/pictures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "insight/image.hpp"
#include "insight/pictures.hpp"

namespace bp::sweep {
namespace {

constexpr size_t kScale = 3;          // font pixels
constexpr size_t kChar = 4 * kScale;  // a glyph and its gap

std::string number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void fill(RgbImage& img, size_t x0, size_t y0, size_t w, size_t h, uint8_t r, uint8_t g, uint8_t b) {
  for (size_t y = y0; y < std::min(y0 + h, img.height); ++y)
    for (size_t x = x0; x < std::min(x0 + w, img.width); ++x) img.set(x, y, r, g, b);
}

// A line two pixels thick (Bresenham, then a neighbour below and right).
void line(RgbImage& img, long x0, long y0, long x1, long y1, const uint8_t* c) {
  const long dx = std::labs(x1 - x0), dy = -std::labs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  long err = dx + dy;
  for (;;) {
    for (long oy = 0; oy < 2; ++oy)
      for (long ox = 0; ox < 2; ++ox)
        if (x0 + ox >= 0 && y0 + oy >= 0 && size_t(x0 + ox) < img.width && size_t(y0 + oy) < img.height)
          img.set(size_t(x0 + ox), size_t(y0 + oy), c[0], c[1], c[2]);
    if (x0 == x1 && y0 == y1) break;
    const long e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

}  // namespace

std::pair<int, int> heatmap_axes(const std::vector<Axis>& axes) {
  int eta = -1, lambda = -1;
  std::vector<int> varying;
  for (size_t a = 0; a < axes.size(); ++a) {
    if (axes[a].values.size() < 2 || axes[a].flag == "--seeds") continue;
    varying.push_back(int(a));
    if (axes[a].flag == "--eta") eta = int(a);
    if (axes[a].flag == "--lambda") lambda = int(a);
  }
  if (eta >= 0 && lambda >= 0) return {eta, lambda};
  std::stable_sort(varying.begin(), varying.end(),
                   [&](int a, int b) { return axes[size_t(a)].values.size() > axes[size_t(b)].values.size(); });
  if (varying.empty()) return {-1, -1};
  if (varying.size() == 1) return {varying[0], -1};
  return {std::min(varying[0], varying[1]), std::max(varying[0], varying[1])};
}

void write_heatmap(const std::string& path, const std::vector<Axis>& axes, const std::vector<Setting>& settings) {
  const auto [ra, ca] = heatmap_axes(axes);
  if (ra < 0) return;
  const std::vector<std::string> rows = axes[size_t(ra)].values;
  const std::vector<std::string> cols = ca >= 0 ? axes[size_t(ca)].values : std::vector<std::string>{""};
  // Each cell: the best setting's mean among those with this pair of values.
  std::map<std::pair<std::string, std::string>, double> cell;
  for (const Setting& s : settings) {
    const std::pair key{s.point[size_t(ra)], ca >= 0 ? s.point[size_t(ca)] : ""};
    const auto it = cell.find(key);
    if (it == cell.end() || s.validation_mean > it->second) cell[key] = s.validation_mean;
  }
  double lo = 100, hi = 0;
  for (const auto& [key, v] : cell) lo = std::min(lo, v), hi = std::max(hi, v);
  size_t label = 0;
  for (const auto& r : rows) label = std::max(label, r.size());
  size_t cw = 6 * kChar;  // "99.99" and a margin
  for (const auto& c : cols) cw = std::max(cw, (c.size() + 1) * kChar);
  const size_t ch = 8 * kScale + 8, left = (label + 1) * kChar, top = ch;
  RgbImage img(left + cols.size() * cw + 4, top + rows.size() * ch + 4);
  for (size_t c = 0; c < cols.size(); ++c) draw_text(img, left + c * cw + kChar / 2, 6, cols[c], kScale, 0, 0, 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    draw_text(img, 4, top + r * ch + 6, rows[r], kScale, 0, 0, 0);
    for (size_t c = 0; c < cols.size(); ++c) {
      const auto it = cell.find({rows[r], cols[c]});
      if (it == cell.end()) continue;
      const double t = hi > lo ? (it->second - lo) / (hi - lo) : 1.0;  // 0 worst .. 1 best
      const auto shade = [&](double light, double dark) { return uint8_t(std::lround(light + (dark - light) * t)); };
      fill(img, left + c * cw, top + r * ch, cw - 2, ch - 2, shade(240, 8), shade(244, 48), shade(250, 107));
      const uint8_t ink = t > 0.5 ? 255 : 0;
      draw_text(img, left + c * cw + kChar / 2, top + r * ch + 6, number(it->second, 2), kScale, ink, ink, ink);
    }
  }
  write_png(path, img);
}

void write_curves(const std::string& path, const std::vector<Setting>& settings, size_t count) {
  static const uint8_t colours[][3] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                       {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127}};
  count = std::min({count, settings.size(), std::size(colours)});
  size_t epochs = 1;
  double lo = 100, hi = 0;
  for (size_t i = 0; i < count; ++i) {
    epochs = std::max(epochs, settings[i].curve.size());
    for (double v : settings[i].curve) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (lo > hi) lo = 0, hi = 100;
  lo = std::floor(lo), hi = std::max(std::ceil(hi), lo + 1);
  const size_t left = 7 * kChar, top = 12, w = 600, h = 360, legend = 6 * kChar;
  RgbImage img(left + w + legend, top + h + 3 * kChar);
  for (size_t x = left; x <= left + w; ++x) img.set(x, top + h, 0, 0, 0);
  for (size_t y = top; y <= top + h; ++y) img.set(left, y, 0, 0, 0);
  draw_text(img, 4, top, number(hi, 0), kScale, 0, 0, 0);
  draw_text(img, 4, top + h - 10, number(lo, 0), kScale, 0, 0, 0);
  draw_text(img, left, top + h + 8, "1", kScale, 0, 0, 0);  // epochs are counted from 1 on the axis
  draw_text(img, left + w - kChar * 3, top + h + 8, std::to_string(epochs), kScale, 0, 0, 0);
  const auto px = [&](size_t e) { return long(left) + long(epochs > 1 ? e * w / (epochs - 1) : w / 2); };
  const auto py = [&](double v) { return long(top) + long(std::lround((hi - v) / (hi - lo) * double(h))); };
  for (size_t i = count; i-- > 0;) {  // the best drawn last, on top
    const auto& c = settings[i].curve;
    for (size_t e = 0; e + 1 < c.size(); ++e) line(img, px(e), py(c[e]), px(e + 1), py(c[e + 1]), colours[i]);
    if (c.size() == 1) line(img, px(0) - 3, py(c[0]), px(0) + 3, py(c[0]), colours[i]);
    fill(img, left + w + kChar, top + i * 3 * kChar, 2 * kChar, 2 * kChar, colours[i][0], colours[i][1], colours[i][2]);
    draw_text(img, left + w + 4 * kChar, top + i * 3 * kChar + 3, std::to_string(i + 1), kScale, 0, 0, 0);
  }
  write_png(path, img);
}

}  // namespace bp::sweep
