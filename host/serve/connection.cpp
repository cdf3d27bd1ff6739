// See connection.hpp. A refusal is written with "Connection: close" and the connection is then
// closed gracefully: the client's unread bytes are read and dropped for a moment first, since
// closing a socket with unread input resets the connection and can discard the answer before
// the client reads it.
#include "serve/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <exception>

#include "serve/framing.hpp"
#include "serve/http_head.hpp"
#include "serve/upstream.hpp"

namespace bp::serve {
namespace {

constexpr auto kLingering = std::chrono::seconds(1);  // for a refused client to read the answer
constexpr const char* kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

enum class Got { bytes, closed, timed_out, stopped };

class ClientConnection {
 public:
  ClientConnection(Fd client, const ConnectionRules& rules) : client_(std::move(client)), rules_(rules) {
    const int yes = 1;  // answers go out in one write; no Nagle delay for the last piece
    ::setsockopt(client_.get(), IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  }

  void serve() {
    while (serve_one()) {}
  }

 private:
  // Serves the next request; false when the connection is to be closed.
  bool serve_one() {
    // Requests already read (pipelined) would otherwise be forwarded one after another after a
    // stop, since the stop signal is seen only while waiting for the client.
    if (rules_.stop->raised()) return false;
    in_.erase(0, leading_empty_lines(in_));
    if (in_.empty() && receive(Clock::now() + std::chrono::seconds(rules_.limits.keep_alive_s)) != Got::bytes)
      return false;  // idle, closed or stopping between requests: nothing to answer
    const auto deadline = Clock::now() + std::chrono::seconds(rules_.limits.request_s);
    const std::string late = "the request did not arrive within " + std::to_string(rules_.limits.request_s) +
                             " s of its first byte; send it whole and at once";
    HeadEnd end;
    for (;;) {
      in_.erase(0, leading_empty_lines(in_));
      if ((end = find_head_end(in_)).kind != HeadEnd::incomplete) break;
      const Got got = receive(deadline);
      if (got == Got::timed_out) return refuse(408, late);
      if (got != Got::bytes) return false;
    }
    if (end.kind == HeadEnd::line_too_long)
      return refuse(414, "the request line is too long: more than " + std::to_string(kMaxHeadBytes) + " bytes");
    if (end.kind == HeadEnd::too_many_lines)
      return refuse(431, "too many header lines: at most " + std::to_string(kMaxHeaderLines));
    if (end.kind == HeadEnd::too_large)
      return refuse(
          431, "the request's header lines are too large: at most " + std::to_string(kMaxHeadBytes) + " bytes in all");
    const ParsedHead parsed = parse_head(std::string_view(in_).substr(0, end.size), true);
    if (!parsed.head) return refuse(400, parsed.error);
    const RequestFrame frame = frame_request(*parsed.head, rules_.limits.max_body);
    // A body over the limit is read and dropped first, so that a client still sending it sees the
    // answer; one that waits for "100 Continue" before sending it is answered at once.
    if (frame.refusal && !(frame.drain && !frame.expect_continue)) return refuse(frame.refusal, frame.why);
    const size_t total = end.size + frame.body;
    if (frame.expect_continue && in_.size() < total && !send_all(kContinue)) return false;
    if (frame.drain) {  // not kept: a body over the limit costs no memory
      for (size_t left = total - std::min(total, in_.size()); left > 0;) {
        in_.clear();
        const Got got = receive(deadline);
        if (got == Got::timed_out) return refuse(408, late);
        if (got != Got::bytes) return false;
        left -= std::min(left, in_.size());
      }
      return refuse(frame.refusal, frame.why);
    }
    while (in_.size() < total) {
      const Got got = receive(deadline);
      if (got == Got::timed_out) return refuse(408, late);
      if (got != Got::bytes) return false;
    }
    Answer answer;
    try {
      answer = exchange(rules_.upstream, std::string_view(in_).substr(0, total), frame.head);
    } catch (const std::exception& e) {
      return refuse(rules_.stop->raised() ? 503 : 500,
                    rules_.stop->raised() ? "the server is stopping" : std::string("internal error: ") + e.what());
    }
    in_.erase(0, total);  // what is left is the next request, sent early (pipelined)
    return send_all(answer.bytes) && frame.keep_alive && !answer.frame.close;
  }

  // Reads what the client has sent into in_.
  Got receive(Clock::time_point deadline) {
    for (;;) {
      const Wait w = wait_for(client_.get(), POLLIN, *rules_.stop, deadline);
      if (w == Wait::timed_out) return Got::timed_out;
      if (w == Wait::stopped) return Got::stopped;
      char buf[16 * 1024];
      const ssize_t n = ::recv(client_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return Got::closed;
      in_.append(buf, size_t(n));
      return Got::bytes;
    }
  }

  // Writes all of `bytes` within the time a request has to arrive; false when that failed.
  bool send_all(std::string_view bytes) {
    const auto deadline = Clock::now() + std::chrono::seconds(rules_.limits.request_s);
    while (!bytes.empty()) {
      if (wait_for(client_.get(), POLLOUT, *rules_.stop, deadline, true) != Wait::ready) return false;
      const ssize_t n = ::send(client_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(size_t(n));
    }
    return true;
  }

  // Answers with an error and ends the connection gracefully; always false (close it).
  bool refuse(int status, const std::string& why) {
    if (!send_all(error_response(status, why))) return false;
    ::shutdown(client_.get(), SHUT_WR);
    const auto until = Clock::now() + kLingering;
    do in_.clear();
    while (receive(until) == Got::bytes);
    return false;
  }

  Fd client_;
  const ConnectionRules& rules_;
  std::string in_;  // received from the client and not yet forwarded
};

}  // namespace

void serve_connection(Fd client, const ConnectionRules& rules) { ClientConnection(std::move(client), rules).serve(); }

}  // namespace bp::serve
