// What the HTTP engine asks every endpoint before the first request: GET /health (is it there? a wrong
// URL fails the job at once with a clear line instead of after every request failed), then GET /props
// on those that answered (llama-server's `total_slots`: how many requests it runs at once; other
// servers answer 404 and keep the initial limit). All endpoints are asked at once.
//
// Threads: the caller's, which must own `transport` (the engine calls it before its loop starts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/http/http_transport.h"

namespace batchwise {

struct EndpointProbe {
  bool up = false;
  std::string failure;             // why not ("Couldn't connect to server", "HTTP 503")
  std::string server;              // the Server header of its /health answer ("llama.cpp")
  std::optional<int> total_slots;  // from /props
};

// One per base URL, in order; each request waits at most `timeout_s`.
std::vector<EndpointProbe> probe_endpoints(HttpTransport& transport, const std::vector<std::string>& base_urls,
                                           double timeout_s);

// A /health answer that means the endpoint is up: any HTTP answer below 500 but 429.
bool health_ok(const HttpReply& r);

// Whether a Server header names llama-server, and what a batch job should know about it (its known slow
// setting and its slots), said once per run.
bool is_llama_server(const std::string& server_header);
std::string llama_server_advice(const std::string& base_url);

}  // namespace batchwise
