// The bounds `backprop serve` holds its clients to (server.hpp), shared by the server and its
// gate (gate.hpp, connection.hpp).
#pragma once

#include <cstddef>

#include "serve/request.hpp"

namespace bp::serve {

struct Limits {
  size_t threads = 16;         // connections served at once
  size_t queue = 64;           // accepted connections waiting for a thread
  size_t max_body = kMaxBody;  // bytes; larger bodies get 413
  int timeout_s = 5;           // the HTTP library's read and write timeouts (its side of the gate)
  // A request's head and body must arrive within this many seconds of its first byte (408
  // otherwise, and the connection is closed), and an answer must be taken within as long: a
  // client sending a header line every few seconds cannot hold a thread for longer.
  int request_s = 10;
  // How long a client's idle kept-alive connection (or one a browser opened in advance and has
  // not used yet) may hold its thread of the gate: a connection is served on one thread, so a
  // long wait here would leave later connections queued behind idle sockets.
  int keep_alive_s = 1;
};

}  // namespace bp::serve
