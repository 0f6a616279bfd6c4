// ConnectionGate: `serve`'s front door below HTTP. Accepted sockets wait here, on one poll() thread,
// until a whole request head has arrived; only then does a worker thread take them. A client that
// opens connections and sends half a request line (or nothing) holds no thread, so a few slow clients
// cannot lock the server out (issue 30: 8 of them took /health from 1 ms to 8.8 s). Limits, each with a
// clear refusal: `max_connections` open at once (past it: 503 + Retry-After, closed at once), a head
// within `header_timeout_s` (408), at most `max_header_bytes` (431). Requests for /health and /metrics
// go ahead of the others, and one worker takes only those, so readiness and metrics are answered even
// while every other worker waits for a long completion. A kept-alive connection goes back to the gate
// between requests (closed when idle for `idle_timeout_s`).
//
// Threads: add() from the accept thread (it never blocks); `serve` runs on the worker threads;
// begin_stop() and join() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace batchwise {

struct GateOptions {
  size_t max_connections = 256;
  int workers = 16;              // threads that run requests, besides the one for /health and /metrics
  double header_timeout_s = 10;
  double idle_timeout_s = 5;
  size_t max_header_bytes = 16384;
};

// One client connection: its socket and the bytes read from it but not yet used.
struct GateConnection {
  int fd = -1;
  std::string buffered;
  int requests = 0;  // answered on this connection so far
};

class ConnectionGate {
 public:
  // Runs one request of the connection (its head is in `buffered`); true keeps the connection open.
  using Serve = std::function<bool(GateConnection&)>;
  ConnectionGate(GateOptions options, Serve serve);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // A socket just accepted; the gate owns it from here (closes it in the end).
  void add(int fd);
  // No new requests start; connections waiting for a head are closed. Returns at once.
  void begin_stop();
  // Waits for the requests running now to end, then for the threads.
  void join();
  bool stopping() const { return stopping_; }
  size_t open_connections() const { return open_; }

 private:
  struct Waiting {
    GateConnection conn;
    double deadline_s;
    bool idle;  // kept alive after a request: closed quietly at its deadline
  };
  void poll_loop();
  void work(bool probes_only);
  void hand_over(GateConnection conn);
  void close(GateConnection& conn);
  void refuse(int fd, const char* status_line, const std::string& message, bool retry_after);
  void wake();

  const GateOptions options_;
  const Serve serve_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_{0};
  int wake_fd_ = -1;  // eventfd: add() and begin_stop() wake the poll thread

  std::mutex mu_;  // incoming_, probes_, requests_
  std::condition_variable cv_;
  std::vector<Waiting> incoming_;        // for the poll thread
  std::deque<GateConnection> probes_;    // heads of /health and /metrics
  std::deque<GateConnection> requests_;  // other heads
  std::thread poller_;
  std::vector<std::thread> workers_;
  bool joined_ = false;
};

}  // namespace batchwise
