// HttpTransport: many HTTP requests at once on one thread, over libcurl's multi interface. Connections
// are kept alive and reused per host; HTTPS endpoints negotiate HTTP/2 and multiplex requests over
// one connection where the server offers it. curl.h stays inside http_transport.cpp.
//
// Threads: everything except wakeup() must be called from one thread (the HTTP engine's event loop).
// wakeup() may be called from any thread to end a poll() early.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchwise {

struct HttpTransportOptions {
  std::string bearer_token;       // empty: no Authorization header; never logged
  long max_connections = 256;     // connections kept open in all
  double connect_timeout_s = 10;
  // A response body longer than this is cut off and comes back as kTooLarge: a server answering
  // 50 MB per request would otherwise fill memory and the state database.
  uint64_t max_response_bytes = 16u << 20;
};

// One request. `url` is copied by start(); `body` is not: it must stay valid until its reply came
// back from poll() or cancel_all() (the engine keeps it with the request in flight).
struct HttpCall {
  uint64_t id = 0;        // the caller's handle, returned in HttpReply
  std::string_view url;
  bool post = true;       // POST `body` as JSON, else GET
  std::string_view body;
  double timeout_s = 600;
  // When set, called with each piece of the response body as it arrives (inside poll(), on the
  // caller's thread), for streamed answers; the whole body still comes back in HttpReply.
  std::function<void(std::string_view)> on_data;
};

enum class TransportFailure {
  kNone,        // an HTTP answer arrived (any status)
  kConnection,  // refused, reset, closed before the answer was complete, name not resolved
  kTimeout,
  kOther,
  kCancelled,
  kTooLarge,    // the body passed max_response_bytes
};

struct HttpReply {
  uint64_t id = 0;
  TransportFailure failure = TransportFailure::kNone;
  std::string failure_message;  // curl's words, for the error line
  int status = 0;
  std::string body;
  double retry_after_s = 0;     // from Retry-After / retry-after-ms; 0: none or unusable
  std::string server;           // the Server header ("llama.cpp" for llama-server)
};

class HttpTransport {
 public:
  static Expected<std::unique_ptr<HttpTransport>> create(const HttpTransportOptions& options);
  virtual ~HttpTransport() = default;

  virtual void start(HttpCall call) = 0;
  // Waits up to `timeout_ms` for network activity or wakeup(), moves transfers on, and returns
  // those that ended.
  virtual std::vector<HttpReply> poll(int timeout_ms) = 0;
  virtual void wakeup() = 0;
  virtual size_t active() const = 0;
  // Ends every transfer now; each comes back with kCancelled.
  virtual std::vector<HttpReply> cancel_all() = 0;
  // Ends the transfers whose id `which` accepts; each comes back with kCancelled.
  virtual std::vector<HttpReply> cancel(const std::function<bool(uint64_t id)>& which) = 0;
};

}  // namespace batchwise
