// HttpEngine: runs requests on one or many OpenAI-compatible servers (llama-server, vLLM, SGLang,
// Ollama, TGI). One event-loop thread drives every transfer through libcurl's multi interface
// (keep-alive, HTTP/2 multiplexing over TLS). An EndpointPool picks the endpoint (least outstanding,
// weighted by measured throughput, sticky per prompt prefix so server prefix caches hit) and keeps
// each endpoint's adaptive concurrency; an endpoint that stops answering is taken out,
// health-checked with backoff and taken back.
//
// Every submitted request ends exactly once through the callback. A request whose connection failed
// before an answer came (refused, reset, server killed) is sent again, to whichever endpoint is up,
// up to max_redispatches times; a 429 pauses its endpoint for the Retry-After and the request is
// sent again too, until it has been rate-limited for outage_limit_s. Timeouts and 5xx come back as
// retryable errors for the runner's RetryPolicy; a request times out at a multiple of the observed
// p99 latency (ObservedTimeout), and repeated timeouts take an endpoint out like repeated 5xx. While no endpoint is up, requests wait (one
// message, health checks with backoff) and fail only once the outage passed outage_limit_s.
// An answer that is not what was asked for (a 200 without `choices`, a choice's content a number)
// is a server error, not an empty success; an answer over max_response_bytes is cut off and fails.
// An HTTP error keeps the server's status and body (EngineResult::raw_body) for the error line.
// The response body is delivered as received (EngineResult::raw_body; `body` stays null: the event
// loop reads usage from it with a SAX pass instead of building it). With `stream`, chat and text
// completions are sent with "stream": true and stream_options.include_usage; the server-sent events
// are assembled (SseAssembler) into the body a non-streamed request would have got, and ttft_ms is
// when the first content chunk arrived, itl_ms the mean gap between content chunks.
//
// At start every endpoint gets GET /health, then GET /props: where llama-server says `total_slots`, that
// endpoint's limit starts there and stays at most there (a ramp one slot at a time is what preceded
// llama-server's stall in issue 26, and more requests than slots only wait in its queue).
//
// An endpoint that holds requests and answers none of them for the stall limit (the request timeout in
// force: timeout_p99_multiple x the observed p99, at least timeout_floor_s, at most request_timeout_s;
// request_timeout_s until 32 answers came) is *stalled*: it is named in a warning and taken out for
// the rest of the run (its /health may well answer), and its requests go to the other endpoints. When
// every endpoint is stalled the engine fails (failure()): the runner stops and the rest stays pending.
//
// Threads: submit(), stop(), stats(), endpoints(), failure() from any thread; the callback runs on the event
// loop thread. The API key is kept in memory only and never logged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/http/endpoint_pool.h"
#include "engine/engine.h"

namespace batchwise {

struct HttpEngineOptions {
  std::vector<std::string> endpoints;  // base URLs, with or without a trailing /v1
  int max_concurrency = 64;            // per endpoint: the adaptive limit's ceiling
  int initial_concurrency = 8;         // per endpoint, at start and after an endpoint came back
  std::string api_key;                 // empty: no Authorization header
  double request_timeout_s = 600;      // the most one request may take
  // Once 32 answers came, a request waits this many times their p99 latency (at least 30 s, at most
  // request_timeout_s): a server that stops answering is noticed in seconds, not minutes. 0: off.
  double timeout_p99_multiple = 4;
  double timeout_floor_s = 30;         // the observed limit is never shorter
  double start_probe_timeout_s = 5;    // start(): GET /health on every endpoint, this long at most
  // Every endpoint down (or answering only 429) this long: requests fail instead of waiting. Until
  // then the engine waits, says so once, and health-checks the endpoints so a restarted server is
  // used again; the runner keeps the requests pending meanwhile (--outage-limit).
  double outage_limit_s = 900;
  uint64_t max_response_bytes = 16u << 20;  // a longer answer is a per-request error (--max-response-mib)
  int max_redispatches = 4;            // per request, after connection failures
  int max_rate_limited_resends = 20;   // per request, after 429s
  bool stream = false;                 // SSE answers: real time to first token (not embeddings)
  // Where /props says `total_slots`, start at that many in flight (false: start at initial_concurrency,
  // e.g. a concurrency tune measured; the slots still cap it).
  bool start_at_server_slots = true;
};

class HttpEngine : public Engine {
 public:
  // Per-endpoint counters and the current adaptive limit, for reports and tests.
  virtual std::vector<EndpointView> endpoints() const = 0;
};

// Checks the options (URLs) and sets up the transport; start() probes the endpoints.
Expected<std::unique_ptr<HttpEngine>> make_http_engine(const HttpEngineOptions& options);

}  // namespace batchwise
