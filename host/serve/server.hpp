// The HTTP side of `backprop serve` (cpp-httplib): the page's files and the JSON API of api.hpp
// under /api/, with bounded request bodies, a fixed pool of worker threads behind a bounded
// queue (the listener waits, and the kernel's backlog holds new connections, when it is full),
// and read/write timeouts. Every refusal is a 4xx with {"error": "one message"}.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "serve/api.hpp"

namespace httplib {
class Server;
}

namespace bp::serve {

struct Limits {
  size_t threads = 16;         // connections served at once
  size_t queue = 64;           // accepted connections waiting for a thread
  size_t max_body = kMaxBody;  // bytes; larger bodies get 413
  int timeout_s = 5;           // read and write timeouts
  // How long an idle kept-alive connection (or one a browser opened in advance and has not used
  // yet) may hold its thread: httplib serves a connection on one thread, so a long wait here
  // would leave later requests queued behind idle sockets.
  int keep_alive_s = 1;
};

class Server {
 public:
  explicit Server(const Served& served, Limits limits = {});
  ~Server();  // stops serving
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds to host:port (port 0: a free one) and returns the port. Throws UsageError.
  int bind(const std::string& host, int port);
  // Serves on a thread of its own until stop(); bind() first.
  void start();
  // Whether the serving thread is still serving (false once it ended, for whatever reason).
  bool running() const { return serving_; }
  // Stops serving and waits for the serving thread; requests in progress finish first.
  void stop();
  // The same, waiting at most `grace`: false when connections still hold threads then (a client
  // sending a header line every few seconds keeps its thread, since the read timeout is per
  // read). The server is then past saving and the caller should end the process.
  bool stop_within(std::chrono::milliseconds grace);

 private:
  const Served& served_;
  Limits limits_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::atomic<bool> serving_{false};
  int listen_socket_ = -1;
};

}  // namespace bp::serve
