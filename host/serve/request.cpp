// See request.hpp. Nothing here allocates more than the body it was given (bounded by the server)
// and a picture of at most kMaxPicturePixels; every refusal names what was wrong in one sentence.
#include "serve/request.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "insight/image.hpp"
#include "insight/preprocess.hpp"

namespace bp::serve {
namespace {

using nlohmann::json;

// The media type without parameters ("application/json; charset=utf-8" -> "application/json").
std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return t;
}

float pixel_value(const json& v) {
  if (!v.is_number()) throw ApiError(400, "\"pixels\" must hold numbers");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < 0 || d > 1) throw ApiError(400, "\"pixels\" values must be between 0 and 1");
  return float(d);
}

// 784 values in 0..1 from a 28x28 nested array or a flat one.
std::vector<float> pixels_from_json(const json& doc) {
  if (!doc.is_object() || !doc.contains("pixels"))
    throw ApiError(400, "the JSON body must be an object with \"pixels\"");
  const json& px = doc["pixels"];
  if (!px.is_array()) throw ApiError(400, "\"pixels\" must be an array (28 rows of 28, or 784 values)");
  std::vector<float> out;
  out.reserve(kPreparedPixels);
  if (px.size() == kPreparedPixels) {
    for (const json& v : px) out.push_back(pixel_value(v));
  } else if (px.size() == kPreparedSide) {
    for (const json& row : px) {
      if (!row.is_array() || row.size() != kPreparedSide)
        throw ApiError(400, "\"pixels\" must be 28 rows of 28 values");
      for (const json& v : row) out.push_back(pixel_value(v));
    }
  } else {
    throw ApiError(400,
                   "\"pixels\" has " + std::to_string(px.size()) + " entries; expected 28 rows of 28 or 784 values");
  }
  return out;
}

uint8_t to_byte(float v) { return uint8_t(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)); }

std::vector<uint8_t> prepared(const GreyImage& picture) {
  try {
    return prepare_digit(picture).pixels;
  } catch (const Error& e) {  // a blank picture
    throw ApiError(422, std::string("cannot read a digit: ") + e.what());
  }
}

}  // namespace

std::vector<uint8_t> input_from_request(const std::string& content_type, const std::string& body) {
  if (body.size() > kMaxBody)
    throw ApiError(
        413, "the request body is " + std::to_string(body.size()) + " bytes; the limit is " + std::to_string(kMaxBody));
  if (body.empty()) throw ApiError(400, "the request body is empty: send a PNG or JSON {\"pixels\": ...}");
  const std::string type = media_type(content_type);
  if (type == "image/png") {
    GreyImage picture;
    try {
      picture = read_grey_png(body, "the upload", kMaxPicturePixels);
    } catch (const Error& e) {
      throw ApiError(400, e.what());
    }
    return prepared(picture);
  }
  if (type == "application/json") {
    const json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded()) throw ApiError(400, "the body is not valid JSON");
    const std::vector<float> values = pixels_from_json(doc);
    bool prepare = true;
    if (doc.contains("prepare")) {
      if (!doc["prepare"].is_boolean()) throw ApiError(400, "\"prepare\" must be true or false");
      prepare = doc["prepare"].get<bool>();
    }
    if (!prepare) {
      std::vector<uint8_t> out(kPreparedPixels);
      std::transform(values.begin(), values.end(), out.begin(), to_byte);
      return out;
    }
    // As a picture: 0..1 grey where 1 is white, so ink (1) on background (0) is light on dark,
    // which prepare_digit keeps as it is, like a white-on-black PNG.
    GreyImage picture;
    picture.width = picture.height = kPreparedSide;
    picture.pixels = values;
    return prepared(picture);
  }
  throw ApiError(415, "unsupported Content-Type '" + content_type + "': send image/png or application/json");
}

}  // namespace bp::serve
