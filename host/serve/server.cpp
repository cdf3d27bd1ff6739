// See server.hpp. Handlers turn ApiError into its status and {"error": ...}; anything else a
// handler throws is a 500 with the same shape (a bug, but the server stays up). The library
// listens on a private Unix socket (upstream.hpp) that only the gate connects to, one request
// per connection, so its own ways with a client's connection (keep-alive, pipelining, timeouts
// per read) never meet a client.
#include "serve/server.hpp"

#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "serve/gate.hpp"
#include "serve/page_assets.hpp"
#include "serve/socket.hpp"
#include "serve/upstream.hpp"

namespace bp::serve {
namespace {

constexpr int kUpstreamBacklog = 128;  // the library listens with 5; the gate may connect with more at once

void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  // With the charset parameter httplib leaves the body uncompressed: Debian's build would
  // otherwise Brotli-compress every answer a browser asks for, at Brotli's slowest setting
  // (seconds for the weight tiles' 1.6 MB), which loopback does not need.
  // A message may quote what a client sent (a path, a Content-Type), which need not be UTF-8:
  // such bytes are replaced by U+FFFD rather than thrown at.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, {{"error", message}}, status);
}

// Runs a handler's work, mapping its failures to a JSON error.
template <class Work>
void answer(httplib::Response& res, Work&& work) {
  try {
    send_json(res, work());
  } catch (const ApiError& e) {
    send_error(res, e.status, e.what());
  } catch (const std::exception& e) {
    send_error(res, 500, std::string("internal error: ") + e.what());
  }
}

// The methods each API path answers (the page's files answer GET and HEAD).
const char* allowed_methods(const std::string& path) {
  if (path == "/api/predict") return "POST";
  if (path == "/api/model" || path == "/api/weights" || path == "/api/confusion" || path == "/api/misclassified" ||
      find_asset(path))
    return "GET, HEAD";
  return nullptr;
}

// A known path asked with a method it does not answer: 405 with the methods it does.
bool refuse_method(const httplib::Request& req, httplib::Response& res) {
  const char* allow = allowed_methods(req.path);
  if (!allow || (", " + std::string(allow) + ",").find(", " + req.method + ",") != std::string::npos) return false;
  res.set_header("Allow", allow);
  send_error(res, 405, req.method + " is not a method of " + req.path + " (it answers " + allow + ")");
  return true;
}

std::string reason(int status) {
  switch (status) {
    case 400: return "bad request";
    case 404: return "not found: the page is at / and the API under /api/";
    case 405: return "method not allowed";
    case 413: return "the request body is too large";
    case 414: return "the request line is too long";
    default: return "HTTP status " + std::to_string(status);
  }
}

}  // namespace

Server::Server(const Served& served, Limits limits)
    : served_(served),
      limits_(limits),
      upstream_(std::make_unique<UpstreamPath>()),
      http_(std::make_unique<httplib::Server>()),
      gate_(std::make_unique<Gate>(limits, upstream_->socket())) {
  httplib::Server& s = *http_;
  const Limits l = limits_;
  s.set_address_family(AF_UNIX);
  s.set_socket_options([this](socket_t sock) { upstream_socket_ = sock; });  // not httplib's SO_REUSEPORT
  // The library's own pool: its queue is unbounded, but only the gate's workers connect, one
  // request each, so at most l.threads connections ever wait for it.
  s.new_task_queue = [l] { return new httplib::ThreadPool(l.threads); };
  s.set_payload_max_length(l.max_body);  // the gate refuses larger bodies first
  s.set_read_timeout(l.timeout_s, 0);
  s.set_write_timeout(l.timeout_s, 0);
  s.set_keep_alive_timeout(l.keep_alive_s);
  s.set_keep_alive_max_count(100);

  s.Get("/api/model",
        [this](const httplib::Request&, httplib::Response& res) { answer(res, [&] { return served_.model(); }); });
  s.Post("/api/predict", [this](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] { return served_.predict(req.get_header_value("Content-Type"), req.body); });
  });
  s.Get("/api/weights",
        [this](const httplib::Request&, httplib::Response& res) { answer(res, [&] { return served_.weights(); }); });
  s.Get("/api/confusion",
        [this](const httplib::Request&, httplib::Response& res) { answer(res, [&] { return served_.confusion(); }); });
  s.Get("/api/misclassified", [this](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] {
      if (!req.has_param("index")) throw ApiError(400, "give the index: /api/misclassified?index=K");
      return served_.misclassified(req.get_param_value("index"));
    });
  });
  s.Get("/.*", [](const httplib::Request& req, httplib::Response& res) {
    if (refuse_method(req, res)) return;  // GET of /api/predict
    const Asset* a = find_asset(req.path);
    if (!a) return send_error(res, 404, "no such page: " + req.path);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::string(a->bytes), std::string(a->content_type).c_str());
  });
  // Statuses httplib sets itself (414 for a long path, 404 for unknown routes) get the API's JSON
  // shape too; a known path asked with a method it does not answer is 405 with the methods it does.
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty() && refuse_method(req, res)) return;
    if (res.body.empty()) send_error(res, res.status, reason(res.status));
  });
}

Server::~Server() {
  stop();
  // A thread of stop_within may not even have begun its stop() yet (it found the server stopped
  // by another): it must be done with `this` before the server goes.
  std::unique_lock lock(stop_mutex_);
  stoppers_done_.wait(lock, [&] { return stoppers_ == 0; });
}

int Server::bind(const std::string& host, int port) {
  if (port < 0 || port > 65535) throw UsageError("--port " + std::to_string(port) + " is not a port (0 to 65535)");
  const int bound = gate_->bind(host, port);
  // The port argument means nothing to a Unix socket.
  if (!http_->bind_to_port(upstream_->socket(), 80))
    throw Error("serve: the HTTP library cannot listen on its private socket " + upstream_->socket());
  if (upstream_socket_ >= 0 && ::listen(upstream_socket_, kUpstreamBacklog) != 0)
    throw Error(system_message("serve: cannot listen on the HTTP library's private socket"));
  return bound;
}

void Server::start() {
  // The gate closes its connection to the library when a client goes or the server stops, maybe
  // while the library writes to it; a write to a closed socket raises SIGPIPE, which ends the
  // process unless ignored, and nothing promises that every write of the library passes
  // MSG_NOSIGNAL (httplib 0.11's Server constructor happens to ignore SIGPIPE too, as does
  // main(); this does not rely on either). Ours all pass it.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, nullptr);
  serving_ = true;
  thread_ = std::thread([this] {
    http_->listen_after_bind();
    serving_ = false;
  });
  gate_->start();
}

bool Server::running() const { return serving_ && gate_->running(); }

bool Server::stop_within(std::chrono::milliseconds grace) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> stopped = done->get_future();
  {
    const std::lock_guard lock(stop_mutex_);
    ++stoppers_;
  }
  std::thread([this, done] {
    stop();
    done->set_value();
    const std::lock_guard lock(stop_mutex_);  // the last use of `this`: the destructor waits for it
    --stoppers_;
    stoppers_done_.notify_all();
  }).detach();
  return stopped.wait_for(grace) == std::future_status::ready;
}

void Server::stop() {
  // stop_within's thread and the destructor may stop at once: the second waits for the first.
  const std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  gate_->stop();  // first: then no client waits, and the library's connections all end
  if (thread_.joinable()) {
    // listen_after_bind sets is_running a moment after it starts; stop() before that would be lost.
    while (serving_ && !http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    http_->stop();
    thread_.join();
  }
  stopped_ = true;
}

void Server::abandon() { upstream_->remove(); }

}  // namespace bp::serve
