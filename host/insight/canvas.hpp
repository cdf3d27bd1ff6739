// A picture drawn with Cairo: an RGB image surface and its drawing context, owned (RAII), text in
// DejaVu Sans through cairo's toy font API, pixel images pasted in at their own size, and the
// result as an RgbImage (written by write_png, atomically). A cairo failure (a size cairo cannot
// make, text that is not UTF-8, no memory) is a bp::Error naming the picture, never a crash.
#pragma once

#include <cairo.h>

#include <memory>
#include <string>

#include "insight/image.hpp"

namespace bp {

struct Colour {
  double r = 0, g = 0, b = 0;  // each 0..1
};

inline constexpr Colour kBlack{0, 0, 0}, kWhite{1, 1, 1}, kInk{0.15, 0.15, 0.15}, kMuted{0.4, 0.4, 0.4},
    kGridLine{0.88, 0.88, 0.88};

enum class Align { left, centre, right };  // where (x, y) is on the text: its left end, middle, right end

class Canvas {
 public:
  // A white picture of width x height pixels; `what` (the file, say) names it in errors.
  Canvas(size_t width, size_t height, std::string what);
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  size_t width() const { return width_; }
  size_t height() const { return height_; }
  const std::string& what() const { return what_; }
  cairo_t* cr() const { return cr_.get(); }  // for paths; leave its state as found (cairo_save/restore)

  // One line of text of `size` pixels (the font's em), vertically centred on y, turned by
  // `degrees` anticlockwise about (x, y) (90: reading upwards, for a vertical axis's name).
  void text(double x, double y, const std::string& s, double size, Align align = Align::left, Colour c = kInk,
            bool bold = false, double degrees = 0) const;
  double text_width(const std::string& s, double size, bool bold = false) const;

  void fill(double x, double y, double w, double h, Colour c) const;
  void line(double x0, double y0, double x1, double y1, Colour c, double width = 1) const;
  // Pixels copied unscaled with their top-left corner at (x, y); what falls outside is cut off.
  void paste(const RgbImage& image, size_t x, size_t y) const;

  // The picture so far; throws bp::Error if any drawing failed.
  RgbImage image() const;
  // image() written to `path` as PNG, atomically (a failure leaves an existing file as it was).
  void write(const std::string& path) const;

 private:
  void check() const;
  void set_font(double size, bool bold) const;

  size_t width_, height_;
  std::string what_;
  std::unique_ptr<cairo_surface_t, void (*)(cairo_surface_t*)> surface_;
  std::unique_ptr<cairo_t, void (*)(cairo_t*)> cr_;
};

}  // namespace bp
