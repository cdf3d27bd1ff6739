// See server.hpp. Handlers turn ApiError into its status and {"error": ...}; anything else a
// handler throws is a 500 with the same shape (a bug, but the server stays up).
#include "serve/server.hpp"

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "serve/page_assets.hpp"

namespace bp::serve {
namespace {

constexpr int kBacklog = 128;

// httplib's ThreadPool has an unbounded queue; this one makes the listener wait while `max`
// connections are queued, so a flood of connections costs no memory here.
class BoundedPool final : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t max) : max_(max) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return jobs_.size() < max_ || shutdown_; });
    jobs_.push_back(std::move(fn));
    ready_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    ready_.notify_all();
    space_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty()) return;  // shut down and drained
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      space_.notify_one();
      fn();
    }
  }

  size_t max_;
  std::vector<std::thread> threads_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
};

void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  // With the charset parameter httplib leaves the body uncompressed: Debian's build would
  // otherwise Brotli-compress every answer a browser asks for, at Brotli's slowest setting
  // (seconds for the weight tiles' 1.6 MB), which loopback does not need.
  res.set_content(body.dump(), "application/json; charset=utf-8");
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

bool same_text(std::string a, std::string b) {
  for (std::string* s : {&a, &b})
    for (char& c : *s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return a == b;
}

constexpr size_t kDrainedBodies = 16;  // bodies up to 16 x the limit are read, discarded and answered 413

// Why a request's body is refused before any of it is read, or 0 and "" for one that may be read:
// a compressed body (a 1 MB gzip body expanded to 1 GiB before the size limit saw it), a chunked
// one (read whole before the limit), and a Content-Length that is not one whole number.
std::pair<int, std::string> body_refusal(const httplib::Request& req, size_t max_body) {
  if (req.has_header("Content-Encoding") && !same_text(req.get_header_value("Content-Encoding"), "identity"))
    return {415, "compressed request bodies (Content-Encoding: " + req.get_header_value("Content-Encoding") +
                     ") are not accepted; send the body as it is"};
  if (req.has_header("Transfer-Encoding") && !same_text(req.get_header_value("Transfer-Encoding"), "identity"))
    return {411, "a request body must come with its Content-Length; chunked bodies are not accepted"};
  if (req.get_header_value_count("Content-Length") > 1) return {400, "more than one Content-Length header"};
  if (req.has_header("Content-Length")) {
    const std::string n = req.get_header_value("Content-Length");
    if (n.empty() || n.size() > 18 || n.find_first_not_of("0123456789") != std::string::npos)
      return {400, "Content-Length must be a whole number of bytes, got '" + n.substr(0, 40) + "'"};
    // httplib answers a body over the limit itself with 413 after reading and discarding it,
    // so that the client, still sending, sees the answer; a claim far past the limit is
    // answered at once instead, since draining it would hold the connection for as long as the
    // client cares to send.
    if (std::stoull(n) > kDrainedBodies * max_body)
      return {413, "the request body is too large: " + n + " bytes, at most " + std::to_string(max_body)};
  }
  return {0, ""};
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
    : served_(served), limits_(limits), http_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *http_;
  const Limits l = limits_;
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets a second server bind a
  // port that one already serves (and take half its connections) instead of refusing it.
  s.set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket_ = sock;
  });
  s.new_task_queue = [l] { return new BoundedPool(l.threads, l.queue); };
  s.set_tcp_nodelay(true);  // headers and body go out as separate writes: no Nagle delay between
  s.set_payload_max_length(l.max_body);
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
  // Runs once the headers are in, before httplib reads a body.
  s.set_pre_routing_handler([l](const httplib::Request& req, httplib::Response& res) {
    const auto [status, why] = body_refusal(req, l.max_body);
    if (status == 0) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, status, why);
    res.set_header("Connection", "close");  // the unread body must not be taken for the next request
    return httplib::Server::HandlerResponse::Handled;
  });
  // Statuses httplib sets itself (413 for a large body, 400 for a malformed request line,
  // 404 for unknown routes) get the API's JSON shape too; a known path asked with a method it
  // does not answer is 405 with the methods it does.
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty() && refuse_method(req, res)) return;
    if (res.body.empty()) send_error(res, res.status, reason(res.status));
  });
}

Server::~Server() { stop(); }

int Server::bind(const std::string& host, int port) {
  if (port < 0 || port > 65535) throw UsageError("--port " + std::to_string(port) + " is not a port (0 to 65535)");
  const int bound = port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    throw UsageError("cannot listen on " + host + ":" + std::to_string(port) +
                     " (in use, or not an address of this machine); try another --port, or --port 0 for a free one");
  // The library listens with a backlog of 5, so a burst of new connections (8 clients at once,
  // or a browser opening several) would see SYNs dropped and retried a second later; listening
  // again on the same socket raises it.
  if (listen_socket_ >= 0) ::listen(listen_socket_, kBacklog);
  return bound;
}

void Server::start() {
  serving_ = true;
  thread_ = std::thread([this] {
    http_->listen_after_bind();
    serving_ = false;
  });
}

bool Server::stop_within(std::chrono::milliseconds grace) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> stopped = done->get_future();
  std::thread([this, done] {
    stop();
    done->set_value();
  }).detach();
  return stopped.wait_for(grace) == std::future_status::ready;
}

void Server::stop() {
  if (!thread_.joinable()) return;
  // listen_after_bind sets is_running a moment after it starts; stop() before that would be lost.
  while (serving_ && !http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http_->stop();
  thread_.join();
}

}  // namespace bp::serve
