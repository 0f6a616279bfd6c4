// `batchwise run`: an OpenAI Batch JSONL file to completion on the embedded engine, or on
// OpenAI-compatible servers when --endpoint is given.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/command.h"
#include "core/log.h"
#include "engine/http/http_engine.h"
#include "engine/llama/llama_engine.h"
#include "job/runner.h"
#include "model/synth.h"

namespace batchwise {
namespace {

std::atomic<int> g_interrupts{0};

extern "C" void on_interrupt(int) { g_interrupts.fetch_add(1); }

struct RunFlags {
  std::string input;
  RunOptions run;
  LlamaEngineOptions engine;
  HttpEngineOptions http;
  std::string api_key_env;
  std::string model;
  int max_response_mib = 16;
  bool json = false;
};

nlohmann::json engine_json(const EngineStats& e) {
  nlohmann::json j = {{"prompt_tokens_submitted", e.prompt_tokens_submitted},
                      {"prompt_tokens_evaluated", e.prompt_tokens_evaluated},
                      {"generated_tokens", e.generated_tokens}};
  if (e.steps > 0) {
    j["steps"] = e.steps;
    j["tokens_per_step"] = static_cast<double>(e.step_tokens) / static_cast<double>(e.steps);
    j["decode_call_s"] = e.decode_call_s;
    j["wait_s"] = e.wait_s;
    j["host_s"] = e.host_s;
  }
  return j;
}

// Where the engine thread's time went, for --verbose: a device waiting on the host shows here.
void log_engine_profile(const EngineStats& e) {
  if (e.steps == 0) return;
  char line[256];
  std::snprintf(line, sizeof line,
                "engine: %lld steps of %.0f tokens; %.1f s in llama_decode, %.1f s waiting for the device, %.1f s host work",
                static_cast<long long>(e.steps), static_cast<double>(e.step_tokens) / static_cast<double>(e.steps),
                e.decode_call_s, e.wait_s, e.host_s);
  log_debug(line);
}

nlohmann::json endpoints_json(const std::vector<EndpointView>& views) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : views) {
    out.push_back({{"url", v.base_url}, {"up", v.up}, {"requests_ok", v.ok}, {"requests_failed", v.failed},
                   {"dispatched", v.dispatched}, {"times_down", v.times_down}, {"concurrency_limit", v.limit},
                   {"max_in_flight", v.max_outstanding}, {"throughput_rps", v.throughput_rps}});
  }
  return out;
}

// The HTTP engine for --endpoint; the API key comes from the environment, never the command line.
Expected<std::unique_ptr<HttpEngine>> make_endpoint_engine(RunFlags& f) {
  if (!f.api_key_env.empty()) {
    const char* key = std::getenv(f.api_key_env.c_str());
    if (!key || !*key) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--api-key-env " + f.api_key_env + ": that environment variable is not set or empty");
    }
    f.http.api_key = key;
  }
  f.http.max_response_bytes = static_cast<uint64_t>(f.max_response_mib) << 20;
  return make_http_engine(f.http);
}

int run_on(RunFlags& f, Engine& engine, const HttpEngine* http);

int run_command(RunFlags& f) {
  f.run.input = f.input;
  f.run.interrupts = &g_interrupts;
  if (!f.http.endpoints.empty()) {
    auto http = make_endpoint_engine(f);
    if (!http) return report_error(http.error());
    return run_on(f, **http, http->get());
  }
  if (f.http.stream) {
    return report_error({ErrorCode::kInvalidArgument,
                         "--stream needs --endpoint (the embedded engine measures time to first token itself)"});
  }
  if (f.model.empty()) {
    auto tiny = default_tiny_model();
    if (!tiny) return report_error(tiny.error());
    f.engine.model_path = *tiny;
    log_info("no --model given: using the synthetic tiny model (its text is meaningless; speed and memory are real)");
  } else {
    f.engine.model_path = f.model;
  }
  auto engine = make_llama_engine(f.engine);
  if (!engine) return report_error(engine.error());
  return run_on(f, **engine, nullptr);
}

int run_on(RunFlags& f, Engine& engine, const HttpEngine* http) {
  log_info(engine.description());
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  auto outcome = run_batch(f.run, engine);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!outcome) return report_error(outcome.error());

  const RunReport& r = outcome->report;
  log_engine_profile(outcome->engine);
  if (f.json) {
    nlohmann::json j = report_json(r);
    j["engine"] = engine_json(outcome->engine);
    j["files"] = {{"output", outcome->output.string()}, {"errors", outcome->errors.string()},
                  {"state", outcome->state.string()}};
    if (http) j["endpoints"] = endpoints_json(http->endpoints());
    j["resumed"] = outcome->resumed;
    j["interrupted"] = outcome->interrupted;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::fputs(report_text(r).c_str(), stderr);
    if (http) {
      for (const auto& v : http->endpoints()) {
        std::fprintf(stderr, "endpoint %s: %lld ok, %lld failed, taken out %lld times, concurrency limit %d (peak %d in flight)\n",
                     v.base_url.c_str(), (long long)v.ok, (long long)v.failed, (long long)v.times_down, v.limit,
                     v.max_outstanding);
      }
    }
  }
  if (outcome->interrupted) {
    log_warn("stopped: " + std::to_string(r.pending) + " requests left; run the same command again to resume");
    return kExitInterrupted;
  }
  if (r.pending == 0) {
    log_info("wrote " + std::to_string(r.ok) + " results to " + outcome->output.string() +
             (r.failed ? " and " + std::to_string(r.failed) + " errors to " + outcome->errors.string() : ""));
  }
  return r.failed > 0 ? kExitFailures : kExitOk;
}

}  // namespace

Verb add_run_command(CLI::App& app) {
  auto f = std::make_shared<RunFlags>();
  auto* sub = app.add_subcommand("run", "run an OpenAI Batch JSONL file to completion (resumable)");
  sub->footer(
      "Results go to OUT (OpenAI batch output lines), failures to OUT.errors.jsonl, progress to stderr.\n"
      "The state database (default OUT.state.db) makes the job resumable: run the same command again after a\n"
      "crash or Ctrl-C and it continues where it stopped. Exit: 0 all ok, 1 some requests failed, 130 interrupted.");
  sub->add_option("input", f->input, "batch input JSONL (custom_id, method, url, body per line)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("-o,--output", f->run.output, "output JSONL file")->required();
  sub->add_option("--errors", f->run.errors, "error JSONL file (default: OUT.errors.jsonl)");
  sub->add_option("--state", f->run.state, "state database (default: OUT.state.db)");
  sub->add_flag("--restart", f->run.restart, "discard an existing state and start over");
  sub->add_option("--max-attempts", f->run.retry.max_attempts, "attempts per request for retryable failures")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  sub->add_option("-m,--model", f->model, "GGUF model (default: a cached synthetic tiny model)");
  sub->add_option("-p,--parallel", f->engine.n_parallel, "sequences decoded together, over all lanes (252 per lane)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4032));
  sub->add_option("-c,--ctx", f->engine.n_ctx, "KV cache cells, tokens, split evenly between lanes")->capture_default_str();
  sub->add_option("--lanes", f->engine.lanes,
                  "llama.cpp contexts over the one model, each with its own thread and KV cache; on a GPU one "
                  "lane's CPU work (graph, attention mask, token choice) overlaps another's GPU work "
                  "(0: 2 on a GPU, 1 on a CPU)")
      ->capture_default_str()
      ->check(CLI::Range(0, 16));
  sub->add_option("-b,--batch", f->engine.n_batch, "tokens per llama_decode")->capture_default_str();
  sub->add_option("--ubatch", f->engine.n_ubatch, "tokens per compute step")->capture_default_str();
  sub->add_option("-t,--threads", f->engine.n_threads, "CPU threads per lane (0: the cores split between lanes)")->capture_default_str();
  sub->add_option("--gpu-layers", f->engine.n_gpu_layers, "layers on the GPU (CUDA builds)")->capture_default_str();
  sub->add_option("--max-request-tokens", f->engine.max_request_tokens,
                  "prompt + max_tokens limit per request (0: the model's trained context)")
      ->capture_default_str();
  sub->add_option("--prefix-slots", f->engine.prefix_slots, "cached shared prefixes kept at once")->capture_default_str();
  sub->add_flag("!--no-flash-attn", f->engine.flash_attention, "disable flash attention (on where the backend has it)");
  sub->add_flag("--device-sampling", f->engine.device_sampling,
                "greedy argmax inside llama.cpp's graph: one token per sequence leaves the GPU, not its logits");
  sub->add_option("--endpoint", f->http.endpoints,
                  "OpenAI-compatible server base URL (repeatable), e.g. http://127.0.0.1:8080 or .../v1; "
                  "when given, requests go there instead of the embedded engine");
  sub->add_option("--max-concurrency", f->http.max_concurrency,
                  "with --endpoint: most requests in flight per endpoint (the adaptive limit starts at 8)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  sub->add_option("--api-key-env", f->api_key_env,
                  "with --endpoint: name of the environment variable holding the API key (sent as Bearer)");
  sub->add_option("--request-timeout", f->http.request_timeout_s,
                  "with --endpoint: seconds one request may take before it counts as timed out")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--outage-limit", f->http.outage_limit_s,
                  "with --endpoint: seconds every endpoint may be down (or answer only 429) before waiting "
                  "requests fail; until then they wait and health checks pick a restarted server up")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--max-response-mib", f->max_response_mib,
                  "with --endpoint: largest answer taken, MiB; a longer one is that request's error")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  sub->add_flag("--stream", f->http.stream,
                "with --endpoint: ask for streamed (SSE) answers to measure time to first token; the output "
                "bodies are still whole chat.completion / text_completion objects (default: off)");
  sub->add_flag("--json", f->json, "print the report as JSON on stdout");
  return {sub, [f] { return run_command(*f); }};
}

}  // namespace batchwise
