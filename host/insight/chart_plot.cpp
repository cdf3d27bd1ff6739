// See chart_plot.hpp.
#include "insight/chart_plot.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace bp::chart {
namespace {

constexpr double kTickLength = 4, kGap = 6;

double crisp(double v) { return std::floor(v) + 0.5; }  // a 1-pixel line on one row of pixels

}  // namespace

Plot::Plot(const Canvas& canvas, Frame frame, AxisSpec x, AxisSpec y)
    : canvas_(canvas), f_(frame), x_(std::move(x)), y_(std::move(y)) {}

double Plot::left_room(const Canvas& canvas, const AxisSpec& y) {
  double widest = 0;
  for (const Tick& t : y.ticks) widest = std::max(widest, canvas.text_width(t.label, kTickFont));
  return kTickLength + kGap + widest + kGap + kNameFont + 4;
}

void Plot::axes() const {
  const double left = f_.x, right = f_.x + f_.width, top = f_.y, bottom = f_.y + f_.height;
  double widest = 0;
  for (const Tick& t : x_.ticks) {
    const double x = crisp(px(t.value));
    if (x < left - 0.5 || x > right + 0.5) continue;
    canvas_.line(x, top, x, bottom, kGridLine);
    canvas_.line(x, bottom, x, bottom + kTickLength, kInk);
    canvas_.text(x, bottom + kTickLength + kGap + kTickFont / 2, t.label, kTickFont, Align::centre);
  }
  for (const Tick& t : y_.ticks) {
    const double y = crisp(py(t.value));
    if (y < top - 0.5 || y > bottom + 0.5) continue;
    canvas_.line(left, y, right, y, kGridLine);
    canvas_.line(left - kTickLength, y, left, y, kInk);
    canvas_.text(left - kTickLength - kGap, y, t.label, kTickFont, Align::right);
    widest = std::max(widest, canvas_.text_width(t.label, kTickFont));
  }
  cairo_t* cr = canvas_.cr();
  cairo_save(cr);
  cairo_rectangle(cr, crisp(left), crisp(top), std::round(f_.width), std::round(f_.height));
  cairo_set_source_rgb(cr, kMuted.r, kMuted.g, kMuted.b);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  cairo_restore(cr);
  canvas_.text((left + right) / 2, bottom + kBottomRoom - kNameFont / 2 - 2, x_.name, kNameFont, Align::centre);
  canvas_.text(left - kTickLength - 2 * kGap - widest - kNameFont / 2, (top + bottom) / 2, y_.name, kNameFont,
               Align::centre, kInk, false, 90);
}

void Plot::clip() const {
  cairo_rectangle(canvas_.cr(), f_.x, f_.y, f_.width, f_.height);
  cairo_clip(canvas_.cr());
}

void Plot::line(const std::vector<double>& xs, const std::vector<double>& ys, Colour c, double width) const {
  const size_t n = std::min(xs.size(), ys.size());
  if (n == 0) return;
  if (n == 1) return dots(xs, ys, c, width + 1);
  cairo_t* cr = canvas_.cr();
  cairo_save(cr);
  clip();
  for (size_t i = 0; i < n; ++i) {
    const double x = px(xs[i]), y = py(ys[i]);
    if (std::isfinite(x) && std::isfinite(y))
      cairo_line_to(cr, x, y);
    else
      cairo_new_sub_path(cr);  // a gap where a value is missing
  }
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
  cairo_set_line_width(cr, width);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_stroke(cr);
  cairo_restore(cr);
}

void Plot::band(const std::vector<double>& xs, const std::vector<double>& lo, const std::vector<double>& hi, Colour c,
                double alpha) const {
  const size_t n = std::min({xs.size(), lo.size(), hi.size()});
  if (n < 2) return;
  cairo_t* cr = canvas_.cr();
  cairo_save(cr);
  clip();
  for (size_t i = 0; i < n; ++i) cairo_line_to(cr, px(xs[i]), py(hi[i]));
  for (size_t i = n; i-- > 0;) cairo_line_to(cr, px(xs[i]), py(lo[i]));
  cairo_close_path(cr);
  cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
  cairo_fill(cr);
  cairo_restore(cr);
}

void Plot::dots(const std::vector<double>& xs, const std::vector<double>& ys, Colour c, double radius) const {
  cairo_t* cr = canvas_.cr();
  cairo_save(cr);
  clip();
  for (size_t i = 0; i < std::min(xs.size(), ys.size()); ++i) {
    if (!std::isfinite(px(xs[i])) || !std::isfinite(py(ys[i]))) continue;
    cairo_new_sub_path(cr);
    cairo_arc(cr, px(xs[i]), py(ys[i]), radius, 0, 2 * std::numbers::pi);
  }
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
  cairo_fill(cr);
  cairo_restore(cr);
}

}  // namespace bp::chart
