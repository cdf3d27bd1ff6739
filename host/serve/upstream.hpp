// The private side of the gate: the HTTP library listens on a Unix socket in a folder only this
// user can enter (made fresh, removed at the end), so that every client reaches it through the
// gate; and one request's exchange with it over a connection of its own.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "serve/framing.hpp"

namespace bp::serve {

// A fresh 0700 folder under the temporary folder, holding the socket's path; removes both.
class UpstreamPath {
 public:
  UpstreamPath();   // throws Error
  ~UpstreamPath();  // remove()
  UpstreamPath(const UpstreamPath&) = delete;
  UpstreamPath& operator=(const UpstreamPath&) = delete;
  const std::string& socket() const { return socket_; }
  // Removes the socket and the folder now (once; from any thread): new connections to the
  // library then fail.
  void remove();

 private:
  std::string folder_, socket_;
  std::atomic<bool> removed_{false};
};

struct Answer {
  std::string bytes;  // the response as the library wrote it, head and body
  ResponseFrame frame;
};

// Sends one complete request (`head_request`: a HEAD) and reads its whole answer, passing over
// interim 1xx answers. Throws Error when the library cannot be reached, ends the answer early,
// answers without a Content-Length or above kMaxAnswerBody, or takes more than a minute.
Answer exchange(const std::string& socket, std::string_view request, bool head_request);

}  // namespace bp::serve
