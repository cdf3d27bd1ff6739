// One client connection through the gate: requests are read one at a time, each within bounds
// (its head's lines and bytes, its body's Content-Length) and a deadline from its first byte,
// forwarded whole to the HTTP library, and answered in the order they came, pipelined or not.
#pragma once

#include <string>

#include "serve/limits.hpp"
#include "serve/socket.hpp"

namespace bp::serve {

struct ConnectionRules {
  Limits limits;
  std::string upstream;    // the HTTP library's socket
  const StopSignal* stop;  // raised: stop reading from clients; answers that can be written are
};

// Serves `client` until it closes, idles past keep_alive_s, breaks a rule or the stop is raised.
void serve_connection(Fd client, const ConnectionRules& rules);

}  // namespace bp::serve
