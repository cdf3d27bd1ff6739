// See gate.hpp.
#include "serve/gate.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <exception>

namespace bp::serve {
namespace {

constexpr int kGateBacklog = 128;  // a burst of new connections waits here rather than being refused

}  // namespace

Gate::Gate(const Limits& limits, std::string upstream) : rules_{limits, std::move(upstream), &stop_} {}

Gate::~Gate() { stop(); }

int Gate::bind(const std::string& host, int port) {
  int bound = 0;
  listener_ = listen_tcp(host, port, kGateBacklog, bound);
  return bound;
}

void Gate::start() {
  accepting_ = true;
  for (size_t i = 0; i < rules_.limits.threads; ++i) workers_.emplace_back([this] { work(); });
  acceptor_ = std::thread([this] { accept_loop(); });
}

void Gate::stop() {
  stop_.raise();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();  // accepted and not yet read from: closed unanswered, as the backlog's are
  }
  ready_.notify_all();
  space_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  listener_.reset();
}

void Gate::accept_loop() {
  while (!stop_.raised()) {
    if (wait_for(listener_.get(), POLLIN, stop_, Clock::time_point::max()) != Wait::ready) break;
    Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) {
      // A connection that went away before it was taken, or no descriptors or memory left for
      // now: later connections may fare better. Anything else is the listening socket's end.
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      std::fprintf(stderr, "backprop serve: %s\n", system_message("cannot accept connections").c_str());
      break;
    }
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return queue_.size() < rules_.limits.queue || stopping_; });
    if (stopping_) break;
    queue_.push_back(std::move(client));
    ready_.notify_one();
  }
  accepting_ = false;
}

void Gate::work() {
  for (;;) {
    Fd client;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (stopping_) return;
      client = std::move(queue_.front());
      queue_.pop_front();
    }
    space_.notify_one();
    // A bug in serving one connection must not end the process (an exception leaving this thread
    // would): the connection is closed (unwinding closes it) and the thread serves on.
    try {
      serve_connection(std::move(client), rules_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "backprop serve: a connection was closed after an internal error: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "backprop serve: a connection was closed after an internal error\n");
    }
  }
}

}  // namespace bp::serve
