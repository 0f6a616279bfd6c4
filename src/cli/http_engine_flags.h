// The HTTP engine's flags (--max-concurrency, --request-timeout, --timeout-p99-multiple, --outage-limit), declared
// once for every verb that sends requests to --endpoint servers (run, serve), so that each is spelled, ranged and
// explained alike. --endpoint and --api-key-env are each verb's own (serve's key is the server's).
#pragma once

#include <CLI/CLI.hpp>

#include "engine/http/http_engine.h"

namespace batchwise {

void add_http_engine_flags(CLI::App& sub, HttpEngineOptions& http);

}  // namespace batchwise
