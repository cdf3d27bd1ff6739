// See http_head.hpp.
#include "serve/http_head.hpp"

#include <algorithm>
#include <cctype>

namespace bp::serve {
namespace {

struct HeadLine {
  std::string_view text;  // without its CRLF (or LF)
  size_t next;            // where the next line starts
  bool crlf;              // it ends in CRLF and has no other CR
};

HeadLine head_line_at(std::string_view bytes, size_t from) {
  const size_t lf = bytes.find('\n', from);
  std::string_view line = bytes.substr(from, lf - from);
  const bool crlf = lf != std::string_view::npos && !line.empty() && line.back() == '\r';
  if (crlf) line.remove_suffix(1);
  return {line, lf == std::string_view::npos ? bytes.size() : lf + 1,
          crlf && line.find('\r') == std::string_view::npos};
}

// httplib 0.11 skips a header line that does not end in CRLF (and so takes a head's bare-LF
// empty line for a header line, and the body for more of them): the gate would check other
// headers than the library reads.
constexpr const char* kNotCrlf = "each line of the head must end in CRLF (\\r\\n), with no bare LF or CR";

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string shown(std::string_view s) { return std::string(s.substr(0, 60)) + (s.size() > 60 ? "..." : ""); }

}  // namespace

HeadEnd find_head_end(std::string_view bytes, size_t max_bytes, size_t max_lines) {
  size_t lines = 0;  // header lines seen, the start line not counted
  for (size_t at = 0;;) {
    const size_t lf = bytes.find('\n', at);
    if (lf == std::string_view::npos) {
      if (bytes.size() <= max_bytes) return {HeadEnd::incomplete, 0};
      return {at == 0 ? HeadEnd::line_too_long : HeadEnd::too_large, 0};
    }
    if (lf >= max_bytes) return {at == 0 ? HeadEnd::line_too_long : HeadEnd::too_large, 0};
    const bool empty = lf == at || (lf == at + 1 && bytes[at] == '\r');
    if (empty && at > 0) return {HeadEnd::complete, lf + 1};
    if (at > 0 && ++lines > max_lines) return {HeadEnd::too_many_lines, 0};
    at = lf + 1;
  }
}

size_t leading_empty_lines(std::string_view bytes) {
  size_t n = 0;
  while (n < bytes.size() && (bytes[n] == '\n' || (bytes[n] == '\r' && n + 1 < bytes.size() && bytes[n + 1] == '\n')))
    n += bytes[n] == '\r' ? 2 : 1;
  return n;
}

bool same_word(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

size_t Head::count(std::string_view name) const {
  return size_t(std::count_if(fields.begin(), fields.end(), [&](const auto& f) { return same_word(f.first, name); }));
}

std::optional<std::string> Head::value(std::string_view name) const {
  for (const auto& [n, v] : fields)
    if (same_word(n, name)) return v;
  return std::nullopt;
}

ParsedHead parse_head(std::string_view bytes, bool request) {
  for (size_t at = 0; at < bytes.size();) {
    const HeadLine line = head_line_at(bytes, at);
    if (!line.crlf) return {std::nullopt, kNotCrlf};
    at = line.next;
  }
  const HeadLine first = head_line_at(bytes, 0);
  const std::string_view start = first.text;
  size_t at = first.next;
  Head h;
  const size_t sp1 = start.find(' '), sp2 = sp1 == std::string_view::npos ? sp1 : start.find(' ', sp1 + 1);
  const bool parts = sp1 != std::string_view::npos && sp2 != std::string_view::npos && sp1 > 0 && sp2 > sp1 + 1;
  if (parts) {
    h.start[0] = start.substr(0, sp1);
    h.start[1] = start.substr(sp1 + 1, sp2 - sp1 - 1);
    h.start[2] = start.substr(sp2 + 1);
  }
  const std::string& version = h.start[request ? 2 : 0];
  if (!parts || (version != "HTTP/1.1" && version != "HTTP/1.0") ||
      (request && h.start[2].find(' ') != std::string::npos))
    return {std::nullopt, request ? "the request line is not METHOD PATH HTTP/1.1: '" + shown(start) + "'"
                                  : "the status line is not HTTP/1.1 STATUS REASON: '" + shown(start) + "'"};
  for (size_t n = 1;; ++n) {
    const HeadLine next = head_line_at(bytes, at);
    const std::string_view line = next.text;
    at = next.next;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    // A name with blanks around it, or a line folded onto the one before (a leading blank), are
    // read differently by different servers: refused rather than guessed at.
    if (colon == std::string_view::npos || colon == 0 || trim_blanks(line.substr(0, colon)).size() != colon)
      return {std::nullopt, "header line " + std::to_string(n) + " is not 'Name: value': '" + shown(line) + "'"};
    h.fields.emplace_back(line.substr(0, colon), trim_blanks(line.substr(colon + 1)));
  }
  return {std::move(h), ""};
}

}  // namespace bp::serve
