// How long a request's body is, read from its head, and the refusals that come from the head
// alone; how long a response's body is; and the JSON error answer the gate writes itself.
#pragma once

#include <cstddef>
#include <string>

#include "serve/http_head.hpp"

namespace bp::serve {

// Bodies up to this many times the limit are read, discarded and answered 413 (a client still
// sending would otherwise not see the answer); a longer one is refused at once.
constexpr size_t kDrainedBodies = 16;

struct RequestFrame {
  int refusal = 0;  // a status to answer instead of the request, with `why`; 0: forward it
  std::string why;
  bool drain = false;            // with 413: read and discard the body first
  size_t body = 0;               // the body's bytes (its Content-Length)
  bool head = false;             // a HEAD request: its answer has no body whatever Content-Length says
  bool keep_alive = true;        // the client wants the connection kept for another request
  bool expect_continue = false;  // an HTTP/1.1 client waits for "100 Continue" before the body
};

// A compressed body (a 1 MB gzip body expanded to 1 GiB before the size limit saw it), a chunked
// one (read whole before the limit) and a Content-Length that is not one whole number are refused
// before any of the body is read.
RequestFrame frame_request(const Head& request, size_t max_body);

// The largest answer body taken from the HTTP library (the weight tiles of a large model are some
// megabytes).
constexpr size_t kMaxAnswerBody = size_t{64} << 20;

struct ResponseFrame {
  bool interim = false;  // a 1xx answer (100 Continue): the real one follows
  bool close = false;    // "Connection: close": the client's connection ends after this answer
  size_t body = 0;
};

// A response of the HTTP library to a request (`head_request`: to a HEAD). Throws Error for an
// answer with a body but no Content-Length (204, 304 and a HEAD's have none), or one that is not
// a number or is above kMaxAnswerBody.
ResponseFrame frame_response(const Head& response, bool head_request);

// A complete answer `status` with {"error": why}, closing the connection.
std::string error_response(int status, const std::string& why);

}  // namespace bp::serve
