// See canvas.hpp. The surface is CAIRO_FORMAT_RGB24: 32 bits a pixel, native-endian xRRGGBB.
#include "insight/canvas.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <numbers>

#include "base/error.hpp"

// Fontconfig, under cairo's toy fonts, makes allocations once per process that LeakSanitizer
// reports as leaked at exit (1 KB, the same for one picture or ten): the sanitizer build (CI's)
// takes them as known, and says nothing of it on stderr.
#if defined(__SANITIZE_ADDRESS__)
#define BACKPROP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BACKPROP_ASAN 1
#endif
#endif
#ifdef BACKPROP_ASAN
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }  // outputs stay as they were
#endif

namespace bp {
namespace {

int cairo_size(size_t n) { return int(std::min<size_t>(n, INT_MAX)); }  // cairo refuses anything above 32767

}  // namespace

Canvas::Canvas(size_t width, size_t height, std::string what)
    : width_(width),
      height_(height),
      what_(std::move(what)),
      surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, cairo_size(width), cairo_size(height)),
               cairo_surface_destroy),
      cr_(cairo_create(surface_.get()), cairo_destroy) {
  check();
  cairo_set_source_rgb(cr(), 1, 1, 1);
  cairo_paint(cr());
  // The same glyphs wherever it runs: grey antialiasing and slight hinting, whatever fontconfig says.
  cairo_font_options_t* options = cairo_font_options_create();
  cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_SLIGHT);
  cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_ON);
  cairo_set_font_options(cr(), options);
  cairo_font_options_destroy(options);
  check();
}

void Canvas::check() const {
  cairo_status_t s = cairo_surface_status(surface_.get());
  if (s == CAIRO_STATUS_SUCCESS) s = cairo_status(cr_.get());
  if (s != CAIRO_STATUS_SUCCESS)
    throw Error(what_ + ": cannot draw the " + std::to_string(width_) + "x" + std::to_string(height_) +
                " picture (cairo: " + cairo_status_to_string(s) + ")");
}

void Canvas::set_font(double size, bool bold) const {
  cairo_select_font_face(cr(), "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr(), size);
}

double Canvas::text_width(const std::string& s, double size, bool bold) const {
  cairo_save(cr());
  set_font(size, bold);
  cairo_text_extents_t e{};
  cairo_text_extents(cr(), s.c_str(), &e);
  cairo_restore(cr());
  return e.x_advance;
}

void Canvas::text(double x, double y, const std::string& s, double size, Align align, Colour c, bool bold,
                  double degrees) const {
  cairo_save(cr());
  set_font(size, bold);
  cairo_text_extents_t e{}, digit{};
  cairo_text_extents(cr(), s.c_str(), &e);
  cairo_text_extents(cr(), "0", &digit);  // a digit's height centres digits and capitals alike
  cairo_translate(cr(), x, y);
  cairo_rotate(cr(), -degrees * std::numbers::pi / 180);
  const double shift = align == Align::left ? 0 : align == Align::centre ? e.x_advance / 2 : e.x_advance;
  cairo_move_to(cr(), -shift, -digit.y_bearing / 2);
  cairo_set_source_rgb(cr(), c.r, c.g, c.b);
  cairo_show_text(cr(), s.c_str());
  cairo_restore(cr());
}

void Canvas::fill(double x, double y, double w, double h, Colour c) const {
  cairo_save(cr());
  cairo_rectangle(cr(), x, y, w, h);
  cairo_set_source_rgb(cr(), c.r, c.g, c.b);
  cairo_fill(cr());
  cairo_restore(cr());
}

void Canvas::line(double x0, double y0, double x1, double y1, Colour c, double width) const {
  cairo_save(cr());
  cairo_move_to(cr(), x0, y0);
  cairo_line_to(cr(), x1, y1);
  cairo_set_source_rgb(cr(), c.r, c.g, c.b);
  cairo_set_line_width(cr(), width);
  cairo_stroke(cr());
  cairo_restore(cr());
}

void Canvas::paste(const RgbImage& image, size_t x, size_t y) const {
  cairo_surface_flush(surface_.get());
  unsigned char* data = cairo_image_surface_get_data(surface_.get());
  const size_t stride = size_t(cairo_image_surface_get_stride(surface_.get()));
  if (data == nullptr) return check();  // a surface in error has no pixels
  for (size_t row = 0; row < image.height && y + row < height_; ++row)
    for (size_t col = 0; col < image.width && x + col < width_; ++col) {
      const uint8_t* p = &image.pixels[(row * image.width + col) * 3];
      const uint32_t v = uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | uint32_t(p[2]);
      std::memcpy(data + (y + row) * stride + (x + col) * 4, &v, 4);
    }
  cairo_surface_mark_dirty(surface_.get());
}

RgbImage Canvas::image() const {
  check();
  cairo_surface_flush(surface_.get());
  const unsigned char* data = cairo_image_surface_get_data(surface_.get());
  const size_t stride = size_t(cairo_image_surface_get_stride(surface_.get()));
  RgbImage out(width_, height_);
  for (size_t y = 0; y < height_; ++y)
    for (size_t x = 0; x < width_; ++x) {
      uint32_t v;
      std::memcpy(&v, data + y * stride + x * 4, 4);
      out.set(x, y, uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v));
    }
  return out;
}

void Canvas::write(const std::string& path) const { write_png(path, image()); }

}  // namespace bp
