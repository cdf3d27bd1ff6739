// The head of an HTTP/1.x message (its start line and header fields, up to the empty line that
// ends them): where it ends in the bytes received so far, within bounds on its size, and what it
// says. Pure functions, so that the bounds are tested without sockets.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bp::serve {

constexpr size_t kMaxHeadBytes = 64 * 1024;  // a request's start line and header fields in all
constexpr size_t kMaxHeaderLines = 100;      // header fields in a request

struct HeadEnd {
  enum Kind {
    incomplete,      // no empty line yet and within the bounds: read on
    complete,        // `size` bytes, the empty line included
    too_many_lines,  // more than max_lines header lines
    too_large,       // more than max_bytes without the empty line
    line_too_long,   // the start line alone is more than max_bytes
  } kind = incomplete;
  size_t size = 0;
};

// Looks for the end of a head that starts at bytes[0]. A bare LF ends a line here too, so that a
// head of bare LFs is found whole and then refused by parse_head (rather than waited on).
HeadEnd find_head_end(std::string_view bytes, size_t max_bytes = kMaxHeadBytes, size_t max_lines = kMaxHeaderLines);

// The empty lines a client may send before a request (after a body, say), which are skipped.
size_t leading_empty_lines(std::string_view bytes);

struct Head {
  // A request's method, target and version; a response's version, status and reason.
  std::string start[3];
  std::vector<std::pair<std::string, std::string>> fields;  // names as sent, values trimmed

  size_t count(std::string_view name) const;                      // fields of that name (any case)
  std::optional<std::string> value(std::string_view name) const;  // the first one's
};

// Parses a complete head (as find_head_end found it); an error in one sentence for one that is
// not HTTP/1.0 or HTTP/1.1, has a line that does not end in CRLF (or holds another CR) or a
// header line that is not "Name: value".
struct ParsedHead {
  std::optional<Head> head;
  std::string error;
};
ParsedHead parse_head(std::string_view bytes, bool request);

// Whether two header values are the same word, ignoring case.
bool same_word(std::string_view a, std::string_view b);

}  // namespace bp::serve
