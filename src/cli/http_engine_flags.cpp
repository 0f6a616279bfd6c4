#include "cli/http_engine_flags.h"

namespace batchwise {

void add_http_engine_flags(CLI::App& sub, HttpEngineOptions& http) {
  sub.add_option("--max-concurrency", http.max_concurrency,
                 "with --endpoint: most requests in flight per endpoint (the adaptive limit starts at 8)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  sub.add_option("--request-timeout", http.request_timeout_s,
                 "with --endpoint: seconds one request may take before it counts as timed out")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub.add_option("--timeout-p99-multiple", http.timeout_p99_multiple,
                 "with --endpoint: once 32 answers came, a request times out at this many times their p99 latency "
                 "(at least 30 s, at most --request-timeout), so a server that stops answering is noticed in "
                 "seconds; 0: only --request-timeout")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub.add_option("--outage-limit", http.outage_limit_s,
                 "with --endpoint: seconds every endpoint may be down (or answer only 429) before waiting "
                 "requests fail; until then they wait and health checks pick a restarted server up")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

}  // namespace batchwise
