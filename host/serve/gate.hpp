// The gate in front of the HTTP library (cpp-httplib 0.11.4, a compiled library with no hook
// while a request's head is read): it listens for clients, queues accepted connections for a
// fixed pool of threads (the acceptor waits, and the kernel's backlog holds new connections,
// while the queue is full) and serves each through connection.hpp. Stopping ends every wait on
// a client at once, so no client can hold the server up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "serve/connection.hpp"
#include "serve/socket.hpp"

namespace bp::serve {

class Gate {
 public:
  Gate(const Limits& limits, std::string upstream);
  ~Gate();  // stops
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // Listens on host:port (port 0: a free one) and returns the port. Throws UsageError.
  int bind(const std::string& host, int port);
  void start();  // bind() first
  // False once the acceptor ended (stopped, or a failure of the listening socket).
  bool running() const { return accepting_; }
  // Stops accepting, closes queued connections, ends the waits on clients and joins the threads;
  // answers the HTTP library is still working out are written first.
  void stop();

 private:
  void accept_loop();
  void work();

  ConnectionRules rules_;
  StopSignal stop_;
  Fd listener_;
  std::atomic<bool> accepting_{false};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  std::deque<Fd> queue_;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
};

}  // namespace bp::serve
