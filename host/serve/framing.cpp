// See framing.hpp.
#include "serve/framing.hpp"

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace bp::serve {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
  }
}

bool whole_number(const std::string& n) {
  return !n.empty() && n.size() <= 18 && n.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

RequestFrame frame_request(const Head& request, size_t max_body) {
  RequestFrame f;
  f.head = request.start[0] == "HEAD";
  const std::string connection = request.value("Connection").value_or("");
  f.keep_alive = request.start[2] == "HTTP/1.1" ? !same_word(connection, "close") : same_word(connection, "keep-alive");
  // HTTP/1.0 has no 100 Continue: such a client would take it for the answer.
  f.expect_continue = request.start[2] == "HTTP/1.1" && same_word(request.value("Expect").value_or(""), "100-continue");
  const auto refuse = [&](int status, std::string why) {
    f.refusal = status;
    f.why = std::move(why);
    return f;
  };
  if (const auto e = request.value("Content-Encoding"); e && !same_word(*e, "identity"))
    return refuse(415,
                  "compressed request bodies (Content-Encoding: " + *e + ") are not accepted; send the body as it is");
  if (const auto t = request.value("Transfer-Encoding"); t && !same_word(*t, "identity"))
    return refuse(411, "a request body must come with its Content-Length; chunked bodies are not accepted");
  if (request.count("Content-Length") > 1) return refuse(400, "more than one Content-Length header");
  if (const auto n = request.value("Content-Length")) {
    if (!whole_number(*n))
      return refuse(400, "Content-Length must be a whole number of bytes, got '" + n->substr(0, 40) + "'");
    f.body = std::stoull(*n);
    if (f.body > max_body) {
      f.drain = f.body <= kDrainedBodies * max_body;
      return refuse(413, "the request body is too large: " + *n + " bytes, at most " + std::to_string(max_body));
    }
  }
  return f;
}

ResponseFrame frame_response(const Head& response, bool head_request) {
  ResponseFrame f;
  const std::string& status = response.start[1];
  f.interim = status.size() == 3 && status[0] == '1';
  f.close = same_word(response.value("Connection").value_or(""), "close");
  if (f.interim || head_request || status == "204" || status == "304") return f;
  // httplib 0.11 gives every answer of ours a Content-Length; one without would run to the end of
  // the connection, unbounded.
  const auto n = response.value("Content-Length");
  if (!n) throw Error("serve: the HTTP library answered without a Content-Length");
  if (!whole_number(*n)) throw Error("serve: the HTTP library answered with Content-Length '" + *n + "'");
  f.body = std::stoull(*n);
  if (f.body > kMaxAnswerBody)
    throw Error("serve: the HTTP library's answer is too large (" + *n + " bytes, at most " +
                std::to_string(kMaxAnswerBody) + ")");
  return f;
}

std::string error_response(int status, const std::string& why) {
  // `why` may quote a client's bytes (cut short, too), which need not be UTF-8: they are replaced
  // by U+FFFD rather than thrown at.
  const std::string body =
      nlohmann::json{{"error", why}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
         "\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace bp::serve
