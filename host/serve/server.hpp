// The HTTP side of `backprop serve`: the page's files and the JSON API of api.hpp under /api/,
// answered by cpp-httplib behind a gate of ours (gate.hpp) that takes the clients: a fixed pool
// of threads behind a bounded queue, requests bounded in head and body and due within a deadline,
// pipelined requests answered in order. Every refusal is a 4xx with {"error": "one message"}.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "serve/api.hpp"
#include "serve/limits.hpp"

namespace httplib {
class Server;
}

namespace bp::serve {

class Gate;
class UpstreamPath;

class Server {
 public:
  explicit Server(const Served& served, Limits limits = {});
  ~Server();  // stops serving (and waits for a stop that stop_within left going)
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds to host:port (port 0: a free one) and returns the port. Throws UsageError.
  int bind(const std::string& host, int port);
  // Serves on a thread of its own until stop(); bind() first.
  void start();
  // Whether the serving thread is still serving (false once it ended, for whatever reason).
  bool running() const;
  // Stops serving and waits for the threads: waits on clients end at once (a request not yet
  // whole is dropped), answers being worked out are written first.
  void stop();
  // The same, waiting at most `grace`: false when a handler is still working then (no client can
  // hold the server up); the stop goes on on a thread of its own. The caller should then call
  // abandon() and end the process. Stopping from two threads at once is safe: the second waits
  // for the first.
  bool stop_within(std::chrono::milliseconds grace);
  // Removes the HTTP library's private socket and its folder at once (the destructor does too):
  // for a process about to end without destroying the server, after stop_within failed.
  void abandon();

 private:
  const Served& served_;
  Limits limits_;
  std::unique_ptr<UpstreamPath> upstream_;  // destroyed last: the library's socket is in it
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<Gate> gate_;
  std::thread thread_;
  std::atomic<bool> serving_{false};
  int upstream_socket_ = -1;
  std::mutex stop_mutex_;  // one stop() at a time
  bool stopped_ = false;
  size_t stoppers_ = 0;  // threads of stop_within not yet done with the server
  std::condition_variable stoppers_done_;
};

}  // namespace bp::serve
