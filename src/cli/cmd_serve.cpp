// `batchwise serve`: the OpenAI Batch API (/v1/files, /v1/batches) and completions over the durable job
// runner, with models kept loaded, /metrics and a live page.
#include <csignal>
#include <cstdlib>
#include <thread>

#include "cli/engine_flags.h"
#include "cli/http_engine_flags.h"
#include "cli/layout_flags.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/thread.h"
#include "model/synth.h"
#include "server/batch_service.h"
#include "server/http_api.h"

namespace batchwise {
namespace {

std::atomic<int> g_serve_interrupts{0};
// After Ctrl-C, how long past --stop-grace the server may take before it ends the process itself.
constexpr double kStopMarginS = 5.0;
std::atomic<bool> g_serve_stopped{false};
extern "C" void on_serve_interrupt(int) { g_serve_interrupts.fetch_add(1); }

struct ServeFlags {
  HttpApiOptions http;
  BatchServiceOptions service;
  EnginePoolOptions pool;
  std::vector<std::string> models;
  std::string api_key_env;
  double grace_s = 10;
};

Status add_models(ServeFlags& f) {
  if (f.models.empty() && f.pool.http.endpoints.empty()) {
    BW_ASSIGN_OR_RETURN(auto tiny, default_tiny_model());
    log_info("no --model given: serving the synthetic tiny model as `tiny` (its text is meaningless)");
    f.pool.models.push_back({"tiny", tiny});
  }
  for (const auto& m : f.models) {
    const std::filesystem::path path(m);
    if (!std::filesystem::is_regular_file(path)) {
      return make_error(ErrorCode::kNotFound, "--model " + m + ": no such file (give a GGUF file)");
    }
    const std::string id = path.stem().string();
    for (const auto& existing : f.pool.models) {
      if (existing.id == id) return make_error(ErrorCode::kInvalidArgument, "two --model files are named `" + id + "`");
    }
    f.pool.models.push_back({id, path});
  }
  return {};
}

int serve_command(ServeFlags& f) {
  if (!f.api_key_env.empty()) {
    const char* key = std::getenv(f.api_key_env.c_str());
    if (!key || !*key) {
      return report_error({ErrorCode::kInvalidArgument,
                           "--api-key-env " + f.api_key_env + ": that environment variable is not set or empty"});
    }
    f.http.api_key = key;
  }
  if (!is_loopback_host(f.http.host) && f.http.api_key.empty()) {
    return report_error({ErrorCode::kInvalidArgument,
                         "--host " + f.http.host + " is reachable from other machines: give an API key with "
                         "--api-key-env NAME (clients send it as Bearer), or bind to 127.0.0.1"});
  }
  f.pool.http.api_key = "";  // the endpoints' own key, if any, is not the server's
  if (auto st = add_models(f); !st) return report_error(st.error());
  auto service = BatchService::open(f.service, f.pool);
  if (!service) return report_error(service.error());
  HttpApi api(f.http, **service);
  auto port = api.bind();
  if (!port) return report_error(port.error());
  log_info("serving on http://" + f.http.host + ":" + std::to_string(*port) + " (state " +
           f.service.state_dir.string() + "; Ctrl-C stops, batches resume at the next start)");
  std::signal(SIGINT, on_serve_interrupt);
  std::signal(SIGTERM, on_serve_interrupt);
  std::atomic<bool> listen_ended{false};
  // Ctrl-C: the HTTP front stops taking connections and the service stops at once, side by side, so that
  // an interactive request waiting for its answer is answered (or told 503) within the grace and the
  // HTTP pool can end. A second Ctrl-C, or a stop that takes past the grace plus kStopMarginS, ends the
  // process now: every acknowledged result is already durable, so this is as safe as kill -9, which
  // the next start resumes exactly.
  std::thread watcher = run_thread("serve signals", [&] {
    while (!listen_ended && g_serve_interrupts.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (listen_ended) return;
    log_info("stopping: finishing requests in flight (up to " + std::to_string(static_cast<int>(f.grace_s)) +
             " s; Ctrl-C again stops now)");
    const double deadline = now_s() + f.grace_s + kStopMarginS;
    run_thread("serve deadline", [deadline] {
      while (!g_serve_stopped && g_serve_interrupts.load() < 2 && now_s() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (g_serve_stopped) return;
      log_warn(g_serve_interrupts.load() >= 2 ? "stopping now" : "stopping took too long: stopping now");
      log_info("batches resume at the next start with every result they had");
      std::_Exit(kExitInterrupted);
    }).detach();
    api.stop();
    (*service)->shutdown(f.grace_s);
  });
  api.listen();
  listen_ended = true;
  watcher.join();
  (*service)->shutdown(f.grace_s);  // already done after Ctrl-C; here for a listen() that ended by itself
  g_serve_stopped = true;
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  return g_serve_interrupts.load() > 0 ? kExitInterrupted : kExitOk;
}

}  // namespace

Verb add_serve_command(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  f->service.state_dir = "batchwise-serve";
  f->pool.llama.n_parallel = 32;
  f->pool.llama.n_ctx = 16384;
  auto* sub = app.add_subcommand("serve", "serve the OpenAI Batch API (/v1/files, /v1/batches) and completions");
  sub->footer(
      "Clients use any OpenAI SDK with base_url http://HOST:PORT/v1: upload a batch file (purpose `batch`),\n"
      "create a batch, poll it, download output_file_id (results so far while it runs). Models load on first\n"
      "use and stay loaded (least recently used unloaded past --max-models). Everything lives in --state:\n"
      "kill the server and start it again, and unfinished batches resume with every result exactly once.\n"
      "GET /metrics is Prometheus text (docs/metrics.md); / is a live page. See docs/serve.md.");
  sub->add_option("--host", f->http.host, "address to listen on; other than loopback needs --api-key-env")
      ->capture_default_str();
  sub->add_option("--port", f->http.port, "TCP port (0: any free one, printed at start)")->capture_default_str();
  sub->add_option("--state", f->service.state_dir, "folder for files, batches and their results")->capture_default_str();
  sub->add_option("-m,--model", f->models,
                  "GGUF model to serve (repeatable); requests name it by its file stem (default: the synthetic "
                  "tiny model as `tiny`)");
  sub->add_option("--endpoint", f->pool.http.endpoints,
                  "OpenAI-compatible server for models not given with -m (repeatable); the `model` is passed on");
  add_http_engine_flags(*sub, f->pool.http);
  sub->add_option("--max-models", f->pool.max_models, "models loaded at once; the least recently used idle one is unloaded")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  add_parallel_option(*sub, f->pool.llama.n_parallel, "per model")->capture_default_str();
  sub->add_option("-c,--ctx-size", f->pool.llama.n_ctx, "KV cache cells per model, tokens, split evenly between lanes")
      ->capture_default_str();
  add_lanes_option(*sub, f->pool.llama.lanes, "per model; 0: on a GPU one per 128 sequences below 512 (2 to 4), else one per 252 (4 to 16); 1 on a CPU")
      ->capture_default_str();
  add_embedded_engine_flags(*sub, f->pool.llama);
  sub->add_option("--api-key-env", f->api_key_env,
                  "name of the environment variable holding the API key clients must send as Bearer");
  sub->add_option("--cors-origin", f->http.cors_origin, "allow browser pages from this origin (default: no CORS)");
  sub->add_option("--max-file-bytes", f->http.max_file_bytes, "largest upload, bytes (larger: 413)")
      ->capture_default_str();
  sub->add_option("--max-connections", f->http.gate.max_connections,
                  "client connections open at once; past it a new one gets 503 with Retry-After")
      ->capture_default_str()
      ->check(CLI::Range(8, 100000));
  sub->add_option("--http-threads", f->http.gate.workers,
                  "threads that run requests (one more answers only /health and /metrics)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  sub->add_option("--max-open-batches", f->service.max_open_batches, "batches not finished yet, at most (more: 429)")
      ->capture_default_str();
  sub->add_option("--max-queued-requests", f->service.max_queued_interactive,
                  "interactive requests waiting for an answer, at most (more: 429)")
      ->capture_default_str();
  sub->add_option("--max-attempts", f->service.retry.max_attempts, "attempts per request for retryable failures")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  sub->add_option("--stop-grace", f->grace_s, "seconds requests in flight may finish after Ctrl-C")->capture_default_str();
  return {sub, [f] { return serve_command(*f); }};
}

}  // namespace batchwise
