// See image.hpp. libpng does all PNG decoding and encoding; the bytes then go through
// write_file_atomically.
#include "insight/image.hpp"

#include <png.h>
#include <sys/stat.h>

#include <cerrno>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "base/regular_file.hpp"

namespace bp {

void RgbImage::set(size_t x, size_t y, uint8_t r, uint8_t g, uint8_t b) {
  if (x >= width || y >= height) return;
  uint8_t* p = &pixels[(y * width + x) * 3];
  p[0] = r;
  p[1] = g;
  p[2] = b;
}

namespace {

constexpr size_t kMaxPixels = size_t{1} << 26;  // 64 megapixels: far above any digit photo

// libpng's simplified reader, begun on a file or on bytes in memory by the caller; `name` labels errors.
GreyImage finish_png(png_image& image, bool begun, const std::string& name, size_t max_pixels = kMaxPixels) {
  if (!begun) throw Error(name + ": not a readable PNG (" + image.message + ")");
  if (size_t(image.width) * image.height > max_pixels) {
    png_image_free(&image);
    throw Error(name + ": image too large (" + std::to_string(image.width) + "x" + std::to_string(image.height) + ")");
  }
  image.format = PNG_FORMAT_GRAY;  // libpng converts colour to grey and composes alpha on this background
  png_color white{255, 255, 255};
  std::vector<uint8_t> bytes(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, &white, bytes.data(), 0, nullptr))
    throw Error(name + ": PNG decoding failed (" + image.message + ")");
  GreyImage out;
  out.width = image.width;
  out.height = image.height;
  out.pixels.resize(bytes.size());
  std::transform(bytes.begin(), bytes.end(), out.pixels.begin(), [](uint8_t b) { return float(b) / 255.0f; });
  return out;
}

// libpng allocates each chunk's declared length before reading it, so 140 bytes claiming a
// 1.5 GB chunk cost 1.5 GB. Bytes in memory can be checked first: every chunk up to IEND must fit
// in the bytes there are. (Anything else malformed is left to libpng.)
void check_png_chunks(const std::string& bytes, const std::string& name) {
  const auto be32 = [&](size_t at) {
    return uint32_t(uint8_t(bytes[at])) << 24 | uint32_t(uint8_t(bytes[at + 1])) << 16 |
           uint32_t(uint8_t(bytes[at + 2])) << 8 | uint32_t(uint8_t(bytes[at + 3]));
  };
  for (size_t at = 8; at + 8 <= bytes.size();) {
    const size_t length = be32(at);
    if (length > bytes.size() - at - 8 || bytes.size() - at - 8 - length < 4)
      throw Error(name + ": not a readable PNG (a chunk runs past the end of the data)");
    if (bytes.compare(at + 4, 4, "IEND") == 0) return;
    at += 12 + length;
  }
}

GreyImage read_png(const std::string& path) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  const bool begun = png_image_begin_read_from_file(&image, path.c_str()) != 0;
  return finish_png(image, begun, path);
}

// Netpbm greyscale: "P5" (binary) or "P2" (ASCII), width, height, maxval, then the samples.
GreyImage read_pgm(const std::string& path, const std::string& bytes) {
  std::istringstream in(bytes);
  std::string magic;
  in >> magic;
  const auto number = [&]() {
    in >> std::ws;
    while (in.peek() == '#') {
      std::string comment;
      std::getline(in, comment);
      in >> std::ws;
    }
    long long v = -1;
    in >> v;
    if (!in || v <= 0 || v > (1 << 30)) throw Error(path + ": malformed PGM header");
    return size_t(v);
  };
  const size_t w = number(), h = number(), maxval = number();
  if (maxval > 65535) throw Error(path + ": PGM maxval above 65535");
  if (w * h > kMaxPixels) throw Error(path + ": image too large");
  GreyImage out;
  out.width = w;
  out.height = h;
  out.pixels.resize(w * h);
  if (magic == "P5") {
    in.get();  // the single whitespace before the samples
    const size_t bytes_per = maxval > 255 ? 2 : 1;
    std::string samples(w * h * bytes_per, '\0');
    if (!in.read(samples.data(), std::streamsize(samples.size()))) throw Error(path + ": PGM data truncated");
    for (size_t i = 0; i < w * h; ++i) {
      const size_t v =
          bytes_per == 1 ? uint8_t(samples[i]) : size_t(uint8_t(samples[2 * i])) << 8 | uint8_t(samples[2 * i + 1]);
      out.pixels[i] = float(std::min(v, maxval)) / float(maxval);
    }
  } else {
    for (size_t i = 0; i < w * h; ++i) {
      long long v = -1;
      if (!(in >> v) || v < 0) throw Error(path + ": PGM data truncated or malformed");
      out.pixels[i] = float(std::min<size_t>(size_t(v), maxval)) / float(maxval);
    }
  }
  return out;
}

void write_png_bytes(const std::string& path, size_t w, size_t h, png_uint_32 format, const uint8_t* pixels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(w);
  image.height = png_uint_32(h);
  image.format = format;
  png_alloc_size_t size = 0;
  if (!png_image_write_get_memory_size(image, size, 0, pixels, 0, nullptr))
    throw Error(path + ": PNG encoding failed (" + image.message + ")");
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels, 0, nullptr))
    throw Error(path + ": PNG encoding failed (" + image.message + ")");
  out.resize(size);
  write_file_atomically(path, out);
}

}  // namespace

GreyImage read_grey_image(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw UsageError(path + ": cannot open image: " + std::strerror(errno));
  require_regular_file(path, "an image");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot open image: " + std::strerror(errno));
  char head[2] = {0, 0};
  in.read(head, 2);
  if (head[0] == 'P' && (head[1] == '3' || head[1] == '6' || head[1] == '1' || head[1] == '4'))
    throw Error(path + ": a " + (head[1] == '3' || head[1] == '6' ? "PPM (colour)" : "PBM") +
                " file; PPM/PBM are not supported: save it as PNG or greyscale PGM");
  if (head[0] == 'P' && (head[1] == '5' || head[1] == '2')) {
    in.seekg(0);
    std::ostringstream all;
    all << in.rdbuf();
    return read_pgm(path, all.str());
  }
  return read_png(path);
}

GreyImage read_grey_png(const std::string& bytes, const std::string& name, size_t max_pixels) {
  check_png_chunks(bytes, name);
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  const bool begun = png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) != 0;
  return finish_png(image, begun, name, std::min(max_pixels, kMaxPixels));
}

void write_png(const std::string& path, const RgbImage& image) {
  write_png_bytes(path, image.width, image.height, PNG_FORMAT_RGB, image.pixels.data());
}

void write_png(const std::string& path, const GreyImage& image) {
  std::vector<uint8_t> bytes(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), bytes.begin(),
                 [](float v) { return uint8_t(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f); });
  write_png_bytes(path, image.width, image.height, PNG_FORMAT_GRAY, bytes.data());
}

}  // namespace bp
