// A chart's data area with its two axes: the frame, light grid lines, tick marks and labels, each
// axis's name (with its unit), and lines, bands and dots drawn in data coordinates.
#pragma once

#include <string>
#include <vector>

#include "insight/canvas.hpp"
#include "insight/chart_scale.hpp"

namespace bp::chart {

// The font sizes (pixels) every chart uses, readable at the pictures' own size.
inline constexpr double kTickFont = 12, kNameFont = 13, kTitleFont = 16, kSubtitleFont = 12;

struct Frame {
  double x = 0, y = 0, width = 0, height = 0;  // the data area, in pixels from the top-left corner
};

struct AxisSpec {
  std::string name;  // what and in which unit: "test accuracy (%)"
  Scale scale;
  std::vector<Tick> ticks;
};

class Plot {
 public:
  Plot(const Canvas& canvas, Frame frame, AxisSpec x, AxisSpec y);
  // Pixels left of the frame that the y axis's tick labels and name take.
  static double left_room(const Canvas& canvas, const AxisSpec& y);
  static constexpr double kBottomRoom = 46;  // below the frame: the x tick labels and name

  const Frame& frame() const { return f_; }
  double px(double v) const { return f_.x + x_.scale.fraction(v) * f_.width; }
  double py(double v) const { return f_.y + (1 - y_.scale.fraction(v)) * f_.height; }

  // Grid lines at the ticks, the frame, tick marks and labels, and the axes' names (the y one
  // reading upwards).
  void axes() const;
  // A line through the points, cut at the frame.
  void line(const std::vector<double>& xs, const std::vector<double>& ys, Colour c, double width = 2) const;
  // The area between lo and hi over the xs, in c at `alpha` opacity, cut at the frame.
  void band(const std::vector<double>& xs, const std::vector<double>& lo, const std::vector<double>& hi, Colour c,
            double alpha = 0.18) const;
  void dots(const std::vector<double>& xs, const std::vector<double>& ys, Colour c, double radius = 3) const;

 private:
  void clip() const;

  const Canvas& canvas_;
  Frame f_;
  AxisSpec x_, y_;
};

}  // namespace bp::chart
