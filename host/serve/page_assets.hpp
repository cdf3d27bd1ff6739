// The page's files (host/serve/page/), embedded in the binary at build time by embed_page.cmake.
#pragma once

#include <string_view>

namespace bp::serve {

struct Asset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // from the file's extension
  std::string_view bytes;
};

// The asset served at `path` ("/" is "/index.html"), or nullptr.
const Asset* find_asset(std::string_view path);

}  // namespace bp::serve
