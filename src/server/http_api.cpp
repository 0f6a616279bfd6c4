#include "server/http_api.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>

#include "core/log.h"
#include "server/connection_gate.h"
#include "server/file_download.h"
#include "server/ids.h"
#include "server/listen_backlog.h"
#include "server/status_page.h"

namespace batchwise {
namespace {

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupported:
    case ErrorCode::kContextExceeded:
    case ErrorCode::kCorrupt: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kUnavailable:
    case ErrorCode::kOutOfMemory:
    case ErrorCode::kCancelled: return 503;
    case ErrorCode::kTimeout: return 504;
    default: return 500;
  }
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

// OpenAI's error object.
void send_error(httplib::Response& res, int status, const std::string& message, const std::string& code = "") {
  const char* type = status == 401 ? "authentication_error"
                     : status >= 500 ? "server_error"
                     : status == 429 ? "rate_limit_error"
                                     : "invalid_request_error";
  send_json(res, status,
            {{"error", {{"message", message}, {"type", type}, {"param", nullptr},
                        {"code", code.empty() ? nlohmann::json() : nlohmann::json(code)}}}});
}

// Seconds a client is told to wait before it tries again after a 503 (a model slot or the server busy).
constexpr const char* kRetryAfterS = "2";

void send_error(httplib::Response& res, const Error& e) {
  const int status = http_status(e.code);
  if (status == 503 || status == 429) res.set_header("Retry-After", kRetryAfterS);
  send_error(res, status, e.message, std::string(error_code_name(e.code)));
}

template <class T>
void send(httplib::Response& res, const Expected<T>& value, int ok_status = 200) {
  if (!value) return send_error(res, value.error());
  send_json(res, ok_status, *value);
}

size_t list_limit(const httplib::Request& req) {
  if (!req.has_param("limit")) return 20;
  const long n = std::strtol(req.get_param_value("limit").c_str(), nullptr, 10);
  return static_cast<size_t>(std::clamp<long>(n, 1, 100));
}

// The stream httplib reads a request from and writes its answer to: first the bytes the gate already
// read, then the socket; every read and write waits at most its timeout, so a client that stops
// sending or reading holds a worker for that long, not for ever. A body must also keep coming at its
// BodyPace (an average rate once a grace has passed): a client that sends a byte just within each
// timeout (slow loris) is cut off too.
class GateStream final : public httplib::Stream {
 public:
  GateStream(GateConnection& c, int read_timeout_ms, int write_timeout_ms, const BodyPace& pace)
      : c_(c), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms), pace_(pace),
        start_(std::chrono::steady_clock::now()) {}
  ~GateStream() override { c_.buffered.erase(0, pos_); }  // what is left belongs to the next request

  bool is_readable() const override { return pos_ < c_.buffered.size() || wait(POLLIN, read_timeout_ms_); }
  bool is_writable() const override { return wait(POLLOUT, write_timeout_ms_); }
  ssize_t read(char* ptr, size_t size) override {
    if (pos_ >= c_.buffered.size()) {
      c_.buffered.clear();
      pos_ = 0;
      if (too_slow() || !wait(POLLIN, read_timeout_ms_)) return -1;
      char buf[16384];
      const ssize_t n = ::recv(c_.fd, buf, sizeof buf, 0);
      if (n <= 0) return n;
      c_.buffered.assign(buf, static_cast<size_t>(n));
      received_ += static_cast<size_t>(n);
    }
    const size_t n = std::min(size, c_.buffered.size() - pos_);
    std::memcpy(ptr, c_.buffered.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!wait(POLLOUT, write_timeout_ms_)) return -1;
    return ::send(c_.fd, ptr, size, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(false, ip, port); }
  socket_t socket() const override { return c_.fd; }

 private:
  bool too_slow() const {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return s > pace_.grace_s && static_cast<double>(received_) < (s - pace_.grace_s) * pace_.min_bytes_per_s;
  }
  bool wait(short events, int timeout_ms) const {
    pollfd p{c_.fd, events, 0};
    int r;
    while ((r = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    return r > 0 && (p.revents & (events | POLLHUP));
  }
  void address(bool peer, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if ((peer ? ::getpeername(c_.fd, sa, &len) : ::getsockname(c_.fd, sa, &len)) != 0) return;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (::getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      ip = host;
      port = std::atoi(serv);
    }
  }
  GateConnection& c_;
  size_t pos_ = 0;
  const int read_timeout_ms_;
  const int write_timeout_ms_;
  const BodyPace pace_;
  const std::chrono::steady_clock::time_point start_;
  size_t received_ = 0;  // bytes read from the socket by this stream (the gate's head excluded)
};

// cpp-httplib's server with the ConnectionGate in front: its accept loop hands each socket to the
// gate at once (the task queue runs the hand-over inline), and the gate's workers run httplib's request
// handling over a GateStream. httplib's own thread pool is never used.
class GatedServer final : public httplib::Server {
 public:
  GatedServer(GateOptions gate, int read_timeout_ms, int write_timeout_ms, BodyPace pace)
      : read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms), pace_(pace),
        gate_(gate, [this](GateConnection& c) { return serve_one(c); }) {
    new_task_queue = [] { return new InlineQueue; };
  }
  WideBacklog& backlog() { return backlog_; }
  void begin_stop() {
    gate_.begin_stop();
    stop();
  }
  void join() { gate_.join(); }

 private:
  struct InlineQueue final : httplib::TaskQueue {
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override {}
  };
  bool process_and_close_socket(socket_t sock) override {
    gate_.add(sock);
    return true;
  }
  bool serve_one(GateConnection& c) {
    GateStream stream(c, read_timeout_ms_, write_timeout_ms_, pace_);
    const bool close = gate_.stopping() || c.requests + 1 >= kMaxRequestsPerConnection;
    bool closed = false;
    const bool ok = process_request(stream, close, closed, nullptr);
    c.requests++;
    return ok && !closed && !close;
  }
  static constexpr int kMaxRequestsPerConnection = 1000;
  const int read_timeout_ms_;
  const int write_timeout_ms_;
  const BodyPace pace_;
  WideBacklog backlog_{*this};
  ConnectionGate gate_;  // last: its workers use the members above, and stop before they go
};

}  // namespace

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

bool json_nesting_exceeds(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') depth--;
  }
  return false;
}

struct HttpApi::Impl {
  HttpApiOptions options;
  BatchService& service;
  GatedServer server;

  Impl(HttpApiOptions o, BatchService& s)
      : options(std::move(o)), service(s),
        server(options.gate, static_cast<int>(options.read_timeout_s * 1000), static_cast<int>(options.write_timeout_s * 1000),
               options.body_pace) {}

  // The body as JSON, or an error already sent.
  std::optional<nlohmann::json> json_body(const httplib::Request& req, httplib::Response& res) {
    if (req.body.size() > options.max_json_body_bytes) {
      send_error(res, 413, "the request body is over " + std::to_string(options.max_json_body_bytes) + " bytes");
      return std::nullopt;
    }
    if (json_nesting_exceeds(req.body, options.max_json_depth)) {
      send_error(res, 400, "the request body nests deeper than " + std::to_string(options.max_json_depth) + " levels");
      return std::nullopt;
    }
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      send_error(res, 400, "the request body is not a JSON object");
      return std::nullopt;
    }
    return j;
  }

  void completion(ApiKind kind, const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    if (auto s = body->find("stream"); s != body->end() && s->is_boolean() && s->get<bool>()) {
      // Errors known before the first byte keep their status; later ones are an error event in the stream.
      if (auto model = service.interactive_model(*body); !model) return send_error(res, model.error());
      res.status = 200;
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider("text/event-stream", [this, kind, body = std::move(*body)](size_t, httplib::DataSink& sink) {
        const bool responses = kind == ApiKind::kResponses;
        service.complete_streaming(kind, body, [&sink, responses](const nlohmann::json& event) {
          // The Responses API names each event's type on an `event:` line too, as OpenAI sends it.
          std::string line = responses ? "event: " + event.value("type", std::string("error")) + "\n" : "";
          line += "data: " + event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
          return sink.write(line.data(), line.size());
        });
        // Chat and text completion streams end with [DONE]; a Responses stream ends with its last event.
        static constexpr std::string_view kDone = "data: [DONE]\n\n";
        if (!responses) sink.write(kDone.data(), kDone.size());
        sink.done();
        return true;
      });
      return;
    }
    auto answer = service.complete(kind, *body);
    if (!answer) return send_error(res, answer.error());
    res.status = 200;
    res.set_content(*answer, "application/json");
  }

  void upload(const httplib::Request& req, httplib::Response& res) {
    if (!req.is_multipart_form_data() || !req.has_file("file")) {
      return send_error(res, 400, "send the file as multipart/form-data with fields `file` and `purpose`");
    }
    const auto file = req.get_file_value("file");
    if (file.content.size() > options.max_file_bytes) {
      return send_error(res, 413, "the file is over the limit of " + std::to_string(options.max_file_bytes) + " bytes");
    }
    const std::string purpose = req.has_file("purpose") ? req.get_file_value("purpose").content : "";
    send(res, service.create_file(file.filename.empty() ? "upload.jsonl" : file.filename, purpose, file.content));
  }

  // Streams the file: httplib asks for the next bytes as the socket takes them, so one download holds a
  // chunk (64 KiB of a file, a page of results) whatever the file's size. A file's length is known and
  // sent (ranges work); a running batch's results go out chunked, as they are read. Headers are sent
  // before the first chunk, so a failure later can only cut the answer short: the connection closes
  // without the final chunk (or short of Content-Length), which a client sees as an error.
  void content(const std::string& id, httplib::Response& res) {
    auto opened = service.file_content(id);
    if (!opened) return send_error(res, opened.error());
    std::shared_ptr<FileDownload> download = std::move(*opened);
    // Exceptions must not leave a provider: httplib calls it after the handler's boundary.
    auto next = [download, id](std::string& chunk) -> std::optional<bool> {
      try {
        auto more = download->next(chunk);
        if (more) return *more;
        log_warn("serve: download of " + id + " cut short: " + more.error().message);
      } catch (const std::exception& e) {
        log_warn("serve: download of " + id + " cut short: " + e.what());
      }
      return std::nullopt;
    };
    if (const auto size = download->size()) {
      res.set_content_provider(
          *size, "application/jsonl",
          [download, next, id, file_pos = uint64_t{0}, chunk = std::string()](size_t offset, size_t length,
                                                                      httplib::DataSink& sink) mutable {
            if (offset != file_pos) {  // a Range, a Range's next part, or past a chunk cut at a Range's end
              if (auto st = download->seek(offset); !st) {
                log_warn("serve: download of " + id + " cut short: " + st.error().message);
                return false;
              }
              file_pos = offset;
            }
            const auto more = next(chunk);
            // The file ended before the length sent: stop rather than send a short body as whole.
            if (!more || !*more) return false;
            file_pos += chunk.size();  // what lies past the Range's end is not sent
            return sink.write(chunk.data(), std::min<size_t>(chunk.size(), length));
          });
      return;
    }
    res.set_chunked_content_provider(
        "application/jsonl", [next, chunk = std::string()](size_t, httplib::DataSink& sink) mutable {
          const auto more = next(chunk);
          if (!more) return false;
          if (!*more) {
            sink.done();
            return true;
          }
          return sink.write(chunk.data(), chunk.size());
        });
  }

  void routes() {
    using R = const httplib::Request&;
    using W = httplib::Response&;
    server.Get("/health", [](R, W res) { send_json(res, 200, {{"status", "ok"}}); });
    server.Get("/", [](R, W res) { res.set_content(std::string(status_page_html()), "text/html; charset=utf-8"); });
    server.Get("/status.json", [this](R, W res) { send_json(res, 200, service.status_json()); });
    server.Get("/metrics", [this](R, W res) {
      res.set_content(service.metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server.Get("/v1/models", [this](R, W res) { send_json(res, 200, service.models_list()); });
    server.Post("/v1/chat/completions", [this](R req, W res) { completion(ApiKind::kChatCompletions, req, res); });
    server.Post("/v1/completions", [this](R req, W res) { completion(ApiKind::kCompletions, req, res); });
    server.Post("/v1/embeddings", [this](R req, W res) { completion(ApiKind::kEmbeddings, req, res); });
    server.Post("/v1/responses", [this](R req, W res) { completion(ApiKind::kResponses, req, res); });

    server.Post("/v1/files", [this](R req, W res) { upload(req, res); });
    server.Get("/v1/files", [this](R req, W res) {
      send(res, service.list_files(list_limit(req), req.get_param_value("after")));
    });
    server.Get(R"(/v1/files/([^/]+)/content)", [this](R req, W res) { content(req.matches[1], res); });
    server.Get(R"(/v1/files/([^/]+))", [this](R req, W res) { send(res, service.get_file(req.matches[1])); });
    server.Delete(R"(/v1/files/([^/]+))", [this](R req, W res) { send(res, service.delete_file(req.matches[1])); });

    server.Post("/v1/batches", [this](R req, W res) {
      if (auto body = json_body(req, res)) send(res, service.create_batch(*body));
    });
    server.Get("/v1/batches", [this](R req, W res) {
      send(res, service.list_batches(list_limit(req), req.get_param_value("after")));
    });
    server.Get(R"(/v1/batches/([^/]+))", [this](R req, W res) { send(res, service.get_batch(req.matches[1])); });
    server.Post(R"(/v1/batches/([^/]+)/cancel)", [this](R req, W res) { send(res, service.cancel_batch(req.matches[1])); });
  }

  void guards() {
    server.set_payload_max_length(options.max_file_bytes + (1u << 20));  // multipart framing on top
    // Headers and body go out in separate writes: without this, Nagle's algorithm and the client's delayed
    // ACK add ~40 ms to every answer on a kept-alive connection (bench/serve_vs_run.sh: GET p50 43 -> 0.2 ms).
    server.set_tcp_nodelay(true);
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!options.cors_origin.empty()) {
        res.set_header("Access-Control-Allow-Origin", options.cors_origin);
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        if (req.method == "OPTIONS") {
          res.status = 204;
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      // A body over its limit is refused from its Content-Length, before it is read: JSON bodies may not hold a
      // worker (and memory) for an upload's 200 MiB. Unread bytes would be taken for the next request: close.
      const size_t body_limit = req.path == "/v1/files" ? options.max_file_bytes + (1u << 20) : options.max_json_body_bytes;
      if (req.get_header_value<uint64_t>("Content-Length") > body_limit) {
        send_error(res, 413, "the request body is over " + std::to_string(body_limit) + " bytes");
        res.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (options.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
      const std::string auth = req.get_header_value("Authorization");
      if (!auth.starts_with("Bearer ") || !constant_time_equal(std::string_view(auth).substr(7), options.api_key)) {
        send_error(res, 401, "a valid API key is needed: send `Authorization: Bearer KEY`", "invalid_api_key");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // The one exception boundary: whatever a handler throws becomes a 500 with an error object.
    server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      log_warn("serve: " + req.method + " " + req.path + " failed: " + what);
      send_error(res, 500, "internal error: " + what);
    });
    server.set_logger([this](const httplib::Request&, const httplib::Response& res) {
      service.count_http_request(res.status);
    });
    server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404) send_error(res, 404, "no such route");
      else if (res.status == 413) send_error(res, 413, "the request body is too large");
      else if (res.status >= 400) send_error(res, res.status, "request failed");
    });
  }
};

HttpApi::HttpApi(HttpApiOptions options, BatchService& service)
    : impl_(std::make_unique<Impl>(std::move(options), service)) {
  impl_->routes();
  impl_->guards();
}

HttpApi::~HttpApi() {
  stop();
  impl_->server.join();
}

Expected<int> HttpApi::bind() {
  const std::string& host = impl_->options.host;
  const int port = impl_->options.port == 0 ? impl_->server.bind_to_any_port(host)
                   : impl_->server.bind_to_port(host, impl_->options.port) ? impl_->options.port
                                                                         : -1;
  if (port < 0) {
    return make_error(ErrorCode::kUnavailable, "cannot listen on " + host + ":" + std::to_string(impl_->options.port) +
                                                   " (in use, or not an address of this machine): pick another --port");
  }
  impl_->server.backlog().widen();
  return port;
}

void HttpApi::listen() {
  impl_->server.listen_after_bind();
  impl_->server.join();  // the requests that were running when stop() came
}

void HttpApi::stop() { impl_->server.begin_stop(); }

}  // namespace batchwise
