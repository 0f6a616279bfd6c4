// HttpApi: `serve`'s HTTP front: OpenAI's /v1/files, /v1/batches, /v1/models, /v1/chat/completions,
// /v1/completions and /v1/embeddings over a BatchService, plus /metrics (Prometheus), /status.json and
// the live page at /. Every handler runs behind one exception boundary, so a bad request is an
// OpenAI-style error object ({"error": {message, type, param, code}}) and never a crash. With an API key
// every path but /health needs `Authorization: Bearer KEY` (compared in constant time). No CORS header
// is sent unless an origin is named.
//
// Connections wait in a ConnectionGate (connection_gate.h) until their request head is whole, so slow
// clients hold no thread; the gate's workers run the handlers.
//
// Threads: the gate's workers serve requests; listen() blocks until stop() is called from another
// thread, then until the requests running then have ended.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/batch_service.h"
#include "server/connection_gate.h"

namespace batchwise {

// A slow-loris guard on request bodies: after `grace_s`, a body must have come at `min_bytes_per_s` on average
// (a 200 MB upload at the floor takes 3.5 hours); slower, the connection is cut and its worker freed.
struct BodyPace {
  double grace_s = 10;
  double min_bytes_per_s = 16 * 1024;
};

struct HttpApiOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0: any free port (bound() says which)
  std::string api_key;                      // empty: no authentication (loopback only, checked by the caller)
  std::string cors_origin;                  // empty: no CORS headers
  size_t max_file_bytes = 200u << 20;       // an upload over this is 413
  size_t max_json_body_bytes = 32u << 20;   // other request bodies
  int max_json_depth = 64;                  // nesting deeper than this is refused before it is parsed
  GateOptions gate;                         // connections: how many, head timeout and size, workers
  double read_timeout_s = 10;               // a request's body: the longest wait for its next bytes
  BodyPace body_pace;                       // a request's body: the slowest average it may come at
  double write_timeout_s = 10;              // an answer: the longest wait for the client to take more
};

class HttpApi {
 public:
  HttpApi(HttpApiOptions options, BatchService& service);
  ~HttpApi();

  // Binds the socket; returns the port (the one asked for, or the free one for port 0).
  Expected<int> bind();
  // Serves until stop().
  void listen();
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost): the only hosts `serve` binds to
// without an API key.
bool is_loopback_host(const std::string& host);

// Whether JSON text nests arrays/objects deeper than `limit` (strings are skipped): checked before parsing.
bool json_nesting_exceeds(std::string_view text, int limit);

}  // namespace batchwise
