#include "engine/http/endpoint_probe.h"

#include "engine/http/openai_response.h"

namespace batchwise {
namespace {

// GETs base + `path` on the endpoints `ask` selects; `on_reply(i, reply)` for each answer or failure.
template <typename OnReply>
void get_each(HttpTransport& transport, const std::vector<std::string>& base_urls, const std::vector<bool>& ask,
              const std::string& path, double timeout_s, OnReply on_reply) {
  size_t asked = 0;
  for (size_t i = 0; i < base_urls.size(); ++i) {
    if (!ask[i]) continue;
    const std::string url = base_urls[i] + path;  // start() copies it
    transport.start({.id = i, .url = url, .post = false, .body = {}, .timeout_s = timeout_s});
    asked++;
  }
  for (size_t answered = 0; answered < asked;) {
    for (HttpReply& r : transport.poll(100)) {
      answered++;
      on_reply(static_cast<size_t>(r.id), r);
    }
  }
}

}  // namespace

bool is_llama_server(const std::string& server_header) { return server_header.find("llama.cpp") != std::string::npos; }

std::string llama_server_advice(const std::string& base_url) {
  return "endpoint " + base_url +
         " is llama-server. Known slow setting: its host-memory prompt cache (--cache-ram, on by default) "
         "copies a slot's KV cache on many requests; for batch jobs start it with --cache-ram 0 (slots still "
         "reuse a shared prefix), and with -np at least the concurrency you want (--max-concurrency caps ours)";
}

bool health_ok(const HttpReply& r) {
  return r.failure == TransportFailure::kNone && r.status > 0 && r.status < 500 && r.status != 429;
}

std::vector<EndpointProbe> probe_endpoints(HttpTransport& transport, const std::vector<std::string>& base_urls,
                                           double timeout_s) {
  std::vector<EndpointProbe> out(base_urls.size());
  get_each(transport, base_urls, std::vector<bool>(base_urls.size(), true), "/health", timeout_s,
           [&](size_t i, const HttpReply& r) {
             out[i].up = health_ok(r);
             out[i].server = r.server;
             if (!out[i].up) {
               out[i].failure = r.failure != TransportFailure::kNone ? r.failure_message : "HTTP " + std::to_string(r.status);
             }
           });
  std::vector<bool> up(base_urls.size());
  for (size_t i = 0; i < out.size(); ++i) up[i] = out[i].up;
  get_each(transport, base_urls, up, "/props", timeout_s, [&](size_t i, const HttpReply& r) {
    if (r.failure == TransportFailure::kNone && r.status == 200) out[i].total_slots = read_total_slots(r.body);
  });
  return out;
}

}  // namespace batchwise
