#include "server/connection_gate.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "core/thread.h"

namespace batchwise {
namespace {

bool is_probe(const std::string& head) {
  for (const char* p : {"GET /health ", "GET /health?", "GET /metrics ", "GET /metrics?"}) {
    if (head.starts_with(p)) return true;
  }
  return false;
}

// A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 6.3), but
// cpp-httplib 0.11 refuses such a POST with 400: `curl -X POST …/cancel`, as OpenAI's docs write it,
// sends exactly that. The head gets the `Content-Length: 0` it implies.
void add_implied_length(std::string& buffered) {
  const size_t end = buffered.find("\r\n\r\n");
  if (end == std::string::npos) return;
  if (!buffered.starts_with("POST ") && !buffered.starts_with("PUT ") && !buffered.starts_with("PATCH ")) return;
  std::string head = buffered.substr(0, end + 2);
  std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
  if (head.find("\r\ncontent-length:") != std::string::npos || head.find("\r\ntransfer-encoding:") != std::string::npos) {
    return;
  }
  buffered.insert(end + 2, "Content-Length: 0\r\n");
}

void set_blocking(int fd, bool blocking) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags >= 0) ::fcntl(fd, F_SETFL, blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK));
}

}  // namespace

ConnectionGate::ConnectionGate(GateOptions options, Serve serve)
    : options_(options), serve_(std::move(serve)), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  poller_ = run_thread("http gate", [this] { poll_loop(); });
  workers_.push_back(run_thread("http probes", [this] { work(/*probes_only=*/true); }));
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.push_back(run_thread("http worker", [this] { work(/*probes_only=*/false); }));
  }
}

ConnectionGate::~ConnectionGate() {
  begin_stop();
  join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ConnectionGate::wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void ConnectionGate::refuse(int fd, const char* status_line, const std::string& message, bool retry_after) {
  const std::string body = R"({"error":{"message":")" + message + R"(","type":"server_error","param":null,"code":null}})";
  std::string answer = std::string("HTTP/1.1 ") + status_line + "\r\nContent-Type: application/json\r\n" +
                       (retry_after ? "Retry-After: 1\r\n" : "") + "Content-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
  (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

void ConnectionGate::add(int fd) {
  if (stopping_) {
    refuse(fd, "503 Service Unavailable", "the server is stopping", true);
    return;
  }
  if (open_ >= options_.max_connections) {
    refuse(fd, "503 Service Unavailable",
           "the server holds " + std::to_string(options_.max_connections) +
               " connections (--max-connections): try again in a moment",
           true);
    return;
  }
  open_++;
  set_blocking(fd, false);
  {
    std::lock_guard lock(mu_);
    incoming_.push_back({GateConnection{fd, {}, 0}, now_s() + options_.header_timeout_s, false});
  }
  wake();
}

void ConnectionGate::close(GateConnection& conn) {
  if (conn.fd < 0) return;
  ::shutdown(conn.fd, SHUT_RDWR);
  ::close(conn.fd);
  conn.fd = -1;
  open_--;
}

void ConnectionGate::hand_over(GateConnection conn) {
  set_blocking(conn.fd, true);
  add_implied_length(conn.buffered);
  {
    std::lock_guard lock(mu_);
    (is_probe(conn.buffered) ? probes_ : requests_).push_back(std::move(conn));
  }
  cv_.notify_all();
}

void ConnectionGate::poll_loop() {
  std::vector<Waiting> waiting;
  std::vector<pollfd> fds;
  char buf[4096];
  while (true) {
    {
      std::lock_guard lock(mu_);
      for (auto& w : incoming_) waiting.push_back(std::move(w));
      incoming_.clear();
    }
    if (stopping_) break;
    const double now = now_s();
    // Heads complete, too large, or too late; the rest wait on.
    std::vector<Waiting> still;
    for (auto& w : waiting) {
      if (w.conn.buffered.find("\r\n\r\n") != std::string::npos) {
        hand_over(std::move(w.conn));
      } else if (w.conn.buffered.size() > options_.max_header_bytes) {
        open_--;
        refuse(w.conn.fd, "431 Request Header Fields Too Large",
               "the request head is over " + std::to_string(options_.max_header_bytes) + " bytes", false);
      } else if (now >= w.deadline_s) {
        if (w.idle || w.conn.buffered.empty()) {
          close(w.conn);
        } else {
          open_--;
          refuse(w.conn.fd, "408 Request Timeout", "the request head did not arrive in time", false);
        }
      } else {
        still.push_back(std::move(w));
      }
    }
    waiting.swap(still);
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    double next_s = now + 1.0;
    for (const auto& w : waiting) {
      fds.push_back(pollfd{w.conn.fd, POLLIN, 0});
      next_s = std::min(next_s, w.deadline_s);
    }
    const int timeout_ms = std::clamp(static_cast<int>((next_s - now) * 1000) + 1, 1, 1000);
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Waiting& w = waiting[i - 1];
      const ssize_t got = ::recv(w.conn.fd, buf, sizeof buf, 0);
      if (got > 0) {
        w.conn.buffered.append(buf, static_cast<size_t>(got));
        if (w.idle) w.deadline_s = now_s() + options_.header_timeout_s;  // a new request has begun
        w.idle = false;
      } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        w.deadline_s = 0;  // closed by the client: gone at the next pass
        w.idle = true;
      }
    }
  }
  for (auto& w : waiting) close(w.conn);
  std::lock_guard lock(mu_);
  for (auto& w : incoming_) close(w.conn);
  incoming_.clear();
}

void ConnectionGate::work(bool probes_only) {
  while (true) {
    GateConnection conn;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !probes_.empty() || (!probes_only && !requests_.empty()); });
      if (!probes_.empty()) {
        conn = std::move(probes_.front());
        probes_.pop_front();
      } else if (!probes_only && !requests_.empty()) {
        conn = std::move(requests_.front());
        requests_.pop_front();
      } else {
        return;  // stopping, nothing left
      }
    }
    bool keep = false;
    (void)run_guarded("http worker", [&] { keep = serve_(conn); });
    if (keep && !stopping_) {
      set_blocking(conn.fd, false);
      {
        std::lock_guard lock(mu_);
        incoming_.push_back({std::move(conn), now_s() + options_.idle_timeout_s, true});
      }
      wake();
    } else {
      close(conn);
    }
  }
}

void ConnectionGate::begin_stop() {
  stopping_ = true;
  cv_.notify_all();
  wake();
}

void ConnectionGate::join() {
  if (joined_) return;
  joined_ = true;
  if (poller_.joinable()) poller_.join();
  for (auto& t : workers_) t.join();
  std::lock_guard lock(mu_);
  for (auto& c : probes_) close(c);
  for (auto& c : requests_) close(c);
  probes_.clear();
  requests_.clear();
}

}  // namespace batchwise
