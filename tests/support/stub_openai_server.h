// StubOpenAiServer: a TEST DOUBLE of an OpenAI-compatible server (cpp-httplib on 127.0.0.1, a free
// port). It answers /v1/chat/completions and /v1/completions with a small valid body (usage
// included) at once or after a set delay, and injects the failures a real server cannot be made to
// produce on demand: 429 with Retry-After, 500, hangs (client timeouts) and dropped connections, each
// at a set fraction of requests (chosen by a seeded hash of the request's arrival number). It can be
// killed mid-test (and started again on the same port) and counts what it saw; hostile answers
// (a fixed body for every 200 or every stream, a body dripped a byte at a time, a body cut off
// halfway) test what the client does with them. GET /health answers 200 (also while every POST
// hangs: a server stalled as llama-server was); `capacity` serves only so many at once. A request with "stream": true is
// answered as server-sent events: `stream_chunks` content chunks (the first after stream_first_ms,
// then one every stream_gap_ms), a finish chunk, a usage chunk and `data: [DONE]`; the content
// concatenates to stub_stream_text(stream_chunks).
//
// Threads: requests are served on the server's own thread pool; every method may be called from any
// thread. httplib.h stays inside stub_openai_server.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace batchwise::test {

struct StubBehavior {
  double delay_ms = 0;        // before every answer
  double rate_429 = 0;        // fractions of POSTs
  double retry_after_s = 1;   // sent with 429; 0: no Retry-After header
  double rate_500 = 0;
  double rate_hang = 0;       // no answer for hang_s
  double hang_s = 5;
  double rate_drop = 0;       // connection closed without a complete answer
  bool llama_like = false;    // `Server: llama.cpp` and llama-server's `timings` in bodies
  uint64_t seed = 1;
  bool record_events = true;  // off for benchmarks: events() then stays empty
  double stream_first_ms = 0; // streamed answers: before the first content chunk
  double stream_gap_ms = 0;   // between content chunks
  int stream_chunks = 3;
  int error_status = 500;     // the status of the rate_500 answers (503, 400 ...)
  std::string error_body;     // their body; empty: an OpenAI-style "internal error (stub)"
  // When set, every 200 answer (not streamed) is this body verbatim: a hostile server's answer
  // (no `choices`, HTML, a content that is a number, 50 MB of padding).
  std::string ok_body;
  // When set, every streamed answer is these bytes verbatim (malformed server-sent events).
  std::string stream_body;
  // Every 200 answer (not streamed) sent one byte per this many ms (a server dripping its answer).
  double drip_ms_per_byte = 0;
  // Every 200 answer (not streamed) announces its full Content-Length, sends half, and the
  // connection is closed (a reset mid-body).
  bool reset_mid_body = false;
  // At most this many POSTs are served at once (each for delay_ms); the rest wait their turn, as on a
  // server with that many slots. 0: no limit.
  int capacity = 0;
  // GET /props answers llama-server's {"total_slots": N, ...} when N > 0; else 404 (not llama-server).
  int total_slots = 0;
};

// The content a streamed answer of `chunks` chunks carries: "tok0 tok1 tok2".
std::string stub_stream_text(int chunks);

struct StubEvent {
  double at_s = 0;   // monotonic seconds (core/clock.h's now_s) when the request arrived
  int status = 0;    // what it got (0: dropped or hung)
  std::string request_body;  // the POST's body, as sent
};

class StubOpenAiServer {
 public:
  // Binds 127.0.0.1 on a free port and serves on `threads` threads (a keep-alive connection holds
  // one: give more than the client's connections).
  // `port` 0: a free one; else that port (a server "restarted" where a killed one was).
  static std::unique_ptr<StubOpenAiServer> start(StubBehavior behavior = {}, int threads = 96, int port = 0);
  ~StubOpenAiServer();

  int port() const;
  std::string url() const;  // "http://127.0.0.1:PORT"
  void set_behavior(const StubBehavior& behavior);

  // Stops listening and drops every request in progress; later connections are refused.
  void kill();
  // Blocks until kill() or the process ends (for the stand-alone bench server).
  void wait();

  int64_t requests() const;      // POSTs received
  int64_t answered_ok() const;   // POSTs answered 200
  int max_in_flight() const;     // most POSTs being served at once since the last reset
  void reset_max_in_flight();
  std::vector<StubEvent> events() const;  // every POST, in arrival order
  std::string last_authorization() const; // the Authorization header of the latest POST

  struct Impl;

 private:
  explicit StubOpenAiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Flips `stub` to hanging on every POST (its /health still answers) once it has answered `after` requests: a
// server that stops finishing work while it looks alive (issue 26's llama-server stall).
class StallAfter {
 public:
  StallAfter(StubOpenAiServer& stub, int64_t after) : thread_([this, &stub, after] {
    while (!done_ && stub.answered_ok() < after) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!done_) stub.set_behavior({.delay_ms = 20, .rate_hang = 1.0, .hang_s = 120, .record_events = false});
  }) {}
  ~StallAfter() {
    done_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace batchwise::test
