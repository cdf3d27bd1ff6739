// See pictures.hpp. Drawn with the chart pieces of insight (canvas, scales, plot, keys) and
// written through insight/image's atomic PNG writer.
#include "sweep/pictures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "base/error.hpp"
#include "insight/canvas.hpp"
#include "insight/chart_keys.hpp"
#include "insight/chart_plot.hpp"
#include "sweep/picture_labels.hpp"

namespace bp::sweep {
namespace {

constexpr double kMargin = 14, kBarGap = 24, kBarWidth = 14, kLegendGap = 24;

double widest(const Canvas& canvas, const std::vector<std::string>& texts, double size, bool bold = false) {
  double w = 0;
  for (const std::string& t : texts) w = std::max(w, canvas.text_width(t, size, bold));
  return w;
}

// Where a line chart's parts go: the plot beside its legend, under the title, the picture wide
// enough for the title and subtitle too.
struct LineLayout {
  double left = 0, top = 0, width = 0, height = 0;
};
LineLayout line_layout(const Canvas& measure, const chart::AxisSpec& y, const std::vector<chart::LegendEntry>& entries,
                       const std::string& heading, const std::string& title, const std::string& subtitle, double plot_w,
                       double plot_h) {
  LineLayout l;
  l.left = kMargin + chart::Plot::left_room(measure, y);
  l.top = 10 + chart::title_height(true) + 12;
  const double legend_w = chart::legend_width(measure, entries, heading);
  l.width = std::max({l.left + plot_w + kLegendGap + legend_w + kMargin,
                      2 * kMargin + measure.text_width(title, chart::kTitleFont, true),
                      2 * kMargin + measure.text_width(subtitle, chart::kSubtitleFont)});
  l.height = l.top + std::max(plot_h + chart::Plot::kBottomRoom, chart::legend_height(entries.size(), true)) + kMargin;
  return l;
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
  double lo = INFINITY, hi = -INFINITY;
  std::pair<std::string, std::string> best;
  for (const auto& [key, v] : cell) {
    if (v > hi) best = key;
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (lo > hi) lo = hi = 0;
  std::vector<const Setting*> all;
  for (const Setting& s : settings) all.push_back(&s);
  std::string others;  // the swept flags a cell takes the best of
  for (size_t a = 0; a < axes.size(); ++a)
    if (int(a) != ra && int(a) != ca && axes[a].flag != "--seeds" && axes[a].values.size() > 1)
      others += (others.empty() ? "" : ", ") + axes[a].flag;
  const std::string title = "Mean validation accuracy (%) after the last epoch";
  const std::string subtitle = shared_description(all) + (others.empty() ? "" : "; each cell the best over " + others) +
                               "; darker is better, the best outlined";
  const std::string row_name = axis_name(axes[size_t(ra)].flag),
                    col_name = ca >= 0 ? axis_name(axes[size_t(ca)].flag) : "";
  const std::vector<chart::Tick> ticks =
      hi > lo ? chart::linear_ticks(lo, hi, 5) : std::vector<chart::Tick>{{lo, fixed_decimals(lo, 2)}};

  const Canvas measure(1, 1, path);
  // Whole pixels, so that each cell's inside is one exact colour.
  const double cw = std::ceil(std::max(76.0, widest(measure, cols, chart::kTickFont) + 16));
  // Rows tall enough for the rows' name and the colour scale's, both written upwards beside them.
  const std::string scale_name = "validation accuracy (%)";
  const double names =
      std::max(measure.text_width(row_name, chart::kNameFont), measure.text_width(scale_name, chart::kNameFont));
  const double ch = std::max(34.0, std::ceil((names + 16) / double(rows.size())));
  const double left = std::ceil(kMargin + chart::kNameFont + 10 + widest(measure, rows, chart::kTickFont) + 10);
  const double top =
      10 + chart::title_height(true) + 8 + (col_name.empty() ? 0 : chart::kNameFont + 10) + chart::kTickFont + 10;
  const double cells_w = cw * double(cols.size()), cells_h = ch * double(rows.size());
  const double right = kBarGap + kBarWidth + chart::colour_scale_room(measure, ticks) + kMargin;
  const double width =
      std::max({left + cells_w + right, 2 * kMargin + measure.text_width(title, chart::kTitleFont, true),
                2 * kMargin + measure.text_width(subtitle, chart::kSubtitleFont),
                left + measure.text_width(col_name, chart::kNameFont) + right});
  const Canvas canvas(size_t(std::ceil(width)), size_t(std::ceil(top + cells_h + kMargin)), path);
  chart::title(canvas, title, subtitle, kMargin);
  if (!col_name.empty())
    canvas.text(left + cells_w / 2, top - chart::kTickFont - 10 - chart::kNameFont / 2 - 2, col_name, chart::kNameFont,
                Align::centre);
  canvas.text(kMargin + chart::kNameFont / 2, top + cells_h / 2, row_name, chart::kNameFont, Align::centre, kInk, false,
              90);
  const chart::Scale colour{lo, hi, false};
  for (size_t c = 0; c < cols.size(); ++c)
    canvas.text(left + (double(c) + 0.5) * cw, top - 6 - chart::kTickFont / 2, cols[c], chart::kTickFont,
                Align::centre);
  for (size_t r = 0; r < rows.size(); ++r) {
    const double y = top + double(r) * ch;
    canvas.text(left - 10, y + ch / 2, rows[r], chart::kTickFont, Align::right);
    for (size_t c = 0; c < cols.size(); ++c) {
      const double x = left + double(c) * cw;
      const auto it = cell.find({rows[r], cols[c]});
      if (it == cell.end()) {
        canvas.text(x + cw / 2, y + ch / 2, "none", chart::kTickFont, Align::centre, kMuted);
        continue;
      }
      const double t = hi > lo ? colour.fraction(it->second) : 1.0;  // 0 worst .. 1 best
      canvas.fill(x + 1, y + 1, cw - 2, ch - 2, chart::blues(t));
      canvas.text(x + cw / 2, y + ch / 2, fixed_decimals(it->second, 2), chart::kNameFont, Align::centre,
                  t > 0.5 ? kWhite : kInk, it->first == best);
      if (it->first != best) continue;
      cairo_t* cr = canvas.cr();
      cairo_save(cr);
      cairo_rectangle(cr, x + 2, y + 2, cw - 4, ch - 4);
      cairo_set_source_rgb(cr, 1, 0.6, 0);
      cairo_set_line_width(cr, 3);
      cairo_stroke(cr);
      cairo_restore(cr);
    }
  }
  chart::colour_scale(canvas, {left + cells_w + kBarGap, top, kBarWidth, cells_h}, lo, hi, ticks, chart::blues,
                      scale_name);
  canvas.write(path);
}

void write_curves(const std::string& path, const std::vector<Setting>& settings, size_t count) {
  count = std::min(count, settings.size());
  std::vector<const Setting*> shown;
  size_t epochs = 1;
  double lo = 100, hi = 0;
  for (size_t i = 0; i < count; ++i) {
    shown.push_back(&settings[i]);
    epochs = std::max(epochs, settings[i].curve.size());
    for (double v : settings[i].curve) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (lo > hi) lo = 0, hi = 100;
  chart::AxisSpec x{"epoch", {1, double(epochs), false}, {}};
  if (epochs == 1) x.scale = {0.5, 1.5, false};
  for (const chart::Tick& t : chart::linear_ticks(1, double(epochs), 10))
    if (t.value == std::round(t.value)) x.ticks.push_back({t.value, chart::number_label(t.value)});
  chart::AxisSpec y{"validation accuracy (%)", chart::round_scale(lo, hi, 6), {}};
  y.ticks = chart::linear_ticks(y.scale.lo, y.scale.hi, 6);
  std::vector<chart::LegendEntry> entries;
  const std::vector<std::string> labels = differing_labels(shown);
  for (size_t i = 0; i < count; ++i) entries.push_back({labels[i], chart::series_colour(i)});
  const std::string title = "Validation accuracy after each epoch: the " + std::to_string(count) + " best settings";
  const std::string subtitle = shared_description(shown) + "; numbered as in the sweep's table (1 = best)";
  const std::string heading = "setting";

  const double plot_w = 560, plot_h = 330;
  const auto [left, top, width, height] =
      line_layout(Canvas(1, 1, path), y, entries, heading, title, subtitle, plot_w, plot_h);
  const Canvas canvas(size_t(std::ceil(width)), size_t(std::ceil(height)), path);
  chart::title(canvas, title, subtitle, kMargin);
  const chart::Plot plot(canvas, {left, top, plot_w, plot_h}, x, y);
  plot.axes();
  for (size_t i = count; i-- > 0;) {  // the best drawn last, on top
    std::vector<double> xs(settings[i].curve.size());
    for (size_t e = 0; e < xs.size(); ++e) xs[e] = double(e + 1);  // epochs counted from 1
    plot.line(xs, settings[i].curve, chart::series_colour(i), 2.5);
    if (epochs <= 40) plot.dots(xs, settings[i].curve, chart::series_colour(i), 3);  // each epoch's value
  }
  chart::legend(canvas, left + plot_w + kLegendGap, top, entries, heading);
  canvas.write(path);
}

void write_learning_curve(const std::string& path, const std::vector<LearningSeries>& series) {
  if (series.empty()) throw Error(path + ": no learning-curve series to draw");
  double x_lo = INFINITY, x_hi = 0, y_lo = 100, y_hi = 0;
  for (const LearningSeries& s : series) {
    const size_t n = s.images.size();
    if (n == 0 || s.mean.size() != n || s.low.size() != n || s.high.size() != n)
      throw Error(path + ": learning-curve series '" + s.label + "' has " + std::to_string(n) + " image counts and " +
                  std::to_string(s.mean.size()) + "/" + std::to_string(s.low.size()) + "/" +
                  std::to_string(s.high.size()) +
                  " mean/low/high values (each needs one per image count, at least one)");
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(s.images[i]) || s.images[i] <= 0 || (i > 0 && s.images[i] <= s.images[i - 1]))
        throw Error(path + ": learning-curve series '" + s.label +
                    "': the training images must be positive and ascending (a log axis)");
      for (double v : {s.mean[i], s.low[i], s.high[i]}) {
        if (!std::isfinite(v))
          throw Error(path + ": learning-curve series '" + s.label + "' has a value that is not finite");
        y_lo = std::min(y_lo, v), y_hi = std::max(y_hi, v);
      }
      x_lo = std::min(x_lo, s.images[i]), x_hi = std::max(x_hi, s.images[i]);
    }
  }
  const double pad = std::pow(10.0, 0.04 * std::max(1.0, std::log10(x_hi / x_lo)));  // room for the end points
  chart::AxisSpec x{"training images (log scale)", {x_lo / pad, x_hi * pad, true}, {}};
  x.ticks = chart::log_ticks(x.scale.lo, x.scale.hi);
  chart::AxisSpec y{"test accuracy (%)", chart::round_scale(y_lo, y_hi, 6), {}};
  y.ticks = chart::linear_ticks(y.scale.lo, y.scale.hi, 6);
  std::vector<chart::LegendEntry> entries;
  for (size_t i = 0; i < series.size(); ++i) entries.push_back({series[i].label, chart::series_colour(i), true});
  const std::string title = "Learning curve: test accuracy against the number of training images";
  const std::string subtitle = "line: mean over seeds; band: lowest to highest seed";
  const std::string heading = "network";

  const double plot_w = 560, plot_h = 340;
  const auto [left, top, width, height] =
      line_layout(Canvas(1, 1, path), y, entries, heading, title, subtitle, plot_w, plot_h);
  const Canvas canvas(size_t(std::ceil(width)), size_t(std::ceil(height)), path);
  chart::title(canvas, title, subtitle, kMargin);
  const chart::Plot plot(canvas, {left, top, plot_w, plot_h}, x, y);
  plot.axes();
  for (size_t i = 0; i < series.size(); ++i)
    plot.band(series[i].images, series[i].low, series[i].high, chart::series_colour(i));
  for (size_t i = series.size(); i-- > 0;) {
    plot.line(series[i].images, series[i].mean, chart::series_colour(i), 2.5);
    plot.dots(series[i].images, series[i].mean, chart::series_colour(i), 3.5);
  }
  chart::legend(canvas, left + plot_w + kLegendGap, top, entries, heading);
  canvas.write(path);
}

}  // namespace bp::sweep
