// `batchwise run`: an OpenAI Batch JSONL file to completion on the embedded engine, or on
// OpenAI-compatible servers when --endpoint is given.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/command.h"
#include "cli/engine_flags.h"
#include "cli/http_engine_flags.h"
#include "cli/layout_flags.h"
#include "cli/output_guard.h"
#include "core/log.h"
#include "core/units.h"
#include "engine/http/http_engine.h"
#include "engine/llama/llama_engine.h"
#include "hardware/nvml.h"
#include "job/runner.h"
#include "model/model_source.h"
#include "model/synth.h"
#include "plan/gpu_run_default.h"
#include "tune/tuner.h"

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
  std::string gpus;
  std::string shard;
  int max_response_mib = 16;
  bool json = false;
  CLI::App* command = nullptr;  // to ask which flags were given
  bool force = false;
};

// Before the model loads: -o names a file (the job resumes from it), and one that exists without this
// job's state beside it belongs to someone else.
Status check_output_flags(const RunFlags& f) {
  if (f.run.output == "-") {
    return make_error(ErrorCode::kInvalidArgument,
                      "-o -: run writes its results to a file (a job is resumed from it); name a file and read it "
                      "while the job runs with `batchwise report STATE`");
  }
  BW_TRY(require_output_folder(f.run.output, "-o"));
  if (!f.run.errors.empty()) BW_TRY(require_output_folder(f.run.errors, "--errors"));
  if (!f.run.state.empty()) BW_TRY(require_output_folder(f.run.state, "--state"));
  const auto state = f.run.state.empty() ? default_state_path(f.run.output) : std::filesystem::path(f.run.state);
  std::error_code ec;
  if (std::filesystem::exists(state, ec)) return {};  // this job's own output, rewritten as it resumes
  return refuse_overwrite(f.run.output, "-o", f.force);
}

// Without --parallel/--lanes (or --max-concurrency with --endpoint), start from what `batchwise tune`
// measured for this model, hardware and workload shape, when it has. Returns whether it did.
bool apply_tuned_setting(RunFlags& f) {
  const bool endpoint = !f.http.endpoints.empty();
  if (endpoint ? f.command->count("--max-concurrency") > 0
               : f.command->count("--parallel") + f.command->count("--lanes") > 0) {
    return false;
  }
  auto key = endpoint ? endpoint_key(f.http.endpoints, f.input) : embedded_key(f.engine.model_path, f.input);
  if (!key) return false;
  const auto tuned = cached_setting(*key);
  if (!tuned) return false;
  if (endpoint) {
    f.http.initial_concurrency = static_cast<int>(tuned->knob);
    f.http.start_at_server_slots = false;  // a measured answer beats the server's slot count
    f.http.max_concurrency = std::max(f.http.max_concurrency, static_cast<int>(tuned->knob));
    log_info("using the tuned concurrency: " + std::to_string(tuned->knob) + " in flight per endpoint to start (" +
             tuned->cache_path.string() + "; --max-concurrency overrides)");
  } else {
    f.engine.n_parallel = static_cast<int>(tuned->knob);
    f.engine.lanes = tuned->lanes;
    // The cells its trial had: without them 1,008 tuned sequences ran in run's default 32,768 cells, a few
    // hundred at a time (an H100: 149 req/s where the trial measured 173)
    const bool ctx = tuned->ctx_tokens && f.command->count("--ctx-size") == 0;
    if (ctx) f.engine.n_ctx = static_cast<int>(*tuned->ctx_tokens);
    log_info("using the tuned setting: --parallel " + std::to_string(tuned->knob) + " --lanes " + std::to_string(tuned->lanes) +
             (ctx ? " --ctx-size " + std::to_string(*tuned->ctx_tokens) : "") + " (" + tuned->cache_path.string() +
             "; --parallel/--lanes/--ctx-size override)");
  }
  return true;
}

// On one GPU without -b/-ub: the batch sizes the sweet spot was measured with, whatever the layout, so that
// tune's trials (which name --parallel) measure what `run` with their answer does.
void apply_gpu_batch_default(RunFlags& f) {
  const bool one_gpu_a_copy = f.engine.gpus.empty() ? visible_gpu_count() == 1 : f.engine.gpus.front() >= 0;
  if (!one_gpu_a_copy || f.engine.n_gpu_layers <= 0) return;
  if (f.command->count("--batch-size") == 0) f.engine.n_batch = static_cast<int>(kGpuDefaultBatchTokens);
  if (f.command->count("--ubatch-size") == 0) f.engine.n_ubatch = static_cast<int>(kGpuDefaultUbatchTokens);
}

// On one GPU, without --parallel, --lanes or --ctx-size and with nothing tuned: the measured sweet spot
// (plan/gpu_run_default.h), sized to the GPU's free memory. Several GPUs splitting one copy's layers keep the
// plain defaults (the sweet spot was measured on one).
void apply_gpu_default(RunFlags& f) {
  if (f.command->count("--parallel") + f.command->count("--lanes") + f.command->count("--ctx-size") > 0) return;
  const bool one_gpu_a_copy = f.engine.gpus.empty() ? visible_gpu_count() == 1 : f.engine.gpus.front() >= 0;
  if (!one_gpu_a_copy || f.engine.n_gpu_layers <= 0) return;
  const NvmlProbe nvml = probe_nvml();
  const auto info = load_model_info(f.engine.model_path.string());
  if (nvml.gpus.empty() || !info || !info->file_weights) return;
  const int gpu = f.engine.gpus.empty() ? 0 : f.engine.gpus.front();
  if (gpu >= static_cast<int>(nvml.gpus.size())) return;
  ContextConfig base;
  base.flash_attention = f.engine.flash_attention;
  if (auto k = parse_weight_type(f.engine.cache_type_k)) base.k_type = *k;
  if (auto v = parse_weight_type(f.engine.cache_type_v)) base.v_type = *v;
  const auto d = gpu_run_default(info->spec, *info->file_weights, base, nvml.gpus[gpu].memory_free_bytes);
  if (!d) return;
  f.engine.n_parallel = static_cast<int>(d->layout.parallel);
  f.engine.lanes = static_cast<int>(d->layout.lanes);
  f.engine.n_ctx = static_cast<int>(d->layout.ctx_tokens);
  log_info("on the GPU: --parallel " + std::to_string(d->layout.parallel) + " --lanes " + std::to_string(d->layout.lanes) +
           " --ctx-size " + std::to_string(d->layout.ctx_tokens) + " (" +
           std::to_string(d->layout.parallel / d->layout.lanes) + " sequences a lane, " +
           (d->layout.parallel == kGpuDefaultLanes * kGpuDefaultLaneShapes[0].sequences
                ? "the measured sweet spot"
                : "the measured sweet spot sized down to this GPU's memory") +
           "; about " +
           format_gib(d->memory_bytes) + " of the " + format_gib(nvml.gpus[gpu].memory_free_bytes) +
           " free; --parallel/--lanes/--ctx-size override, `batchwise tune` measures this machine)");
}

nlohmann::json engine_json(const EngineStats& e) {
  nlohmann::json j = {{"prompt_tokens_submitted", e.prompt_tokens_submitted},
                      {"prompt_tokens_evaluated", e.prompt_tokens_evaluated},
                      {"generated_tokens", e.generated_tokens}};
  if (e.steps > 0) {
    j["steps"] = e.steps;
    j["tokens_per_step"] = static_cast<double>(e.step_tokens) / static_cast<double>(e.steps);
    j["decode_call_s"] = e.decode_call_s;
    j["graph_s"] = e.graph_s;
    j["inputs_s"] = e.inputs_s;
    j["launch_s"] = e.launch_s;
    j["graphs_reused"] = e.graphs_reused;
    j["sparse_attention_steps"] = e.sparse_steps;
    j["cascade_attention_steps"] = e.cascade_steps;
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
                "engine: %lld steps of %.0f tokens; %.1f s in llama_decode (graphs %.1f, inputs %.1f, launch %.1f; "
                "%lld graphs reused), %.1f s waiting for the device, %.1f s host work",
                static_cast<long long>(e.steps), static_cast<double>(e.step_tokens) / static_cast<double>(e.steps),
                e.decode_call_s, e.graph_s, e.inputs_s, e.launch_s, static_cast<long long>(e.graphs_reused), e.wait_s,
                e.host_s);
  log_debug(line);
}

nlohmann::json endpoints_json(const std::vector<EndpointView>& views) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : views) {
    out.push_back({{"url", v.base_url}, {"up", v.up}, {"requests_ok", v.ok}, {"requests_failed", v.failed},
                   {"dispatched", v.dispatched}, {"times_down", v.times_down}, {"concurrency_limit", v.limit},
                   {"max_in_flight", v.max_outstanding}, {"throughput_rps", v.throughput_rps},
                   {"server_slots", v.server_slots}, {"stalled", v.stalled}});
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

// `make_engine` runs only where the job has work left (run_batch decides); `http` is set by it for --endpoint.
int run_on(RunFlags& f, const EngineFactory& make_engine, const HttpEngine* const& http);

int run_command(RunFlags& f) {
  f.run.input = f.input;
  f.run.interrupts = &g_interrupts;
  if (!f.shard.empty()) {
    auto shard = parse_shard(f.shard);
    if (!shard) return report_error(shard.error());
    f.run.shard = *shard;
    f.run.output = shard_output_path(f.run.output, *shard);  // the state and errors follow it
  }
  if (auto st = check_output_flags(f); !st) return report_error(st.error());
  if (!f.http.endpoints.empty()) {
    if (!f.gpus.empty()) {
      return report_error({ErrorCode::kInvalidArgument, "--gpus is for the embedded engine: the servers of "
                                                        "--endpoint choose their own GPUs"});
    }
    apply_tuned_setting(f);
    std::unique_ptr<HttpEngine> engine;
    const HttpEngine* http = nullptr;
    return run_on(f, [&]() -> Expected<Engine*> {
      BW_ASSIGN_OR_RETURN(engine, make_endpoint_engine(f));
      http = engine.get();
      return engine.get();
    }, http);
  }
  if (f.http.stream) {
    return report_error({ErrorCode::kInvalidArgument,
                         "--stream needs --endpoint (the embedded engine measures time to first token itself)"});
  }
  if (!f.gpus.empty()) {
    auto gpus = parse_gpu_list(f.gpus);
    if (!gpus) return report_error(gpus.error());
    f.engine.gpus = *gpus;
  } else if (visible_gpu_count() > 1) {
    log_info(std::to_string(visible_gpu_count()) +
             " GPUs: the model's layers are split over them (llama.cpp's default); when it fits one GPU, "
             "--gpus all runs one copy per GPU instead, for about that many times the throughput");
  }
  if (f.model.empty()) {
    auto tiny = default_tiny_model();
    if (!tiny) return report_error(tiny.error());
    f.engine.model_path = *tiny;
    log_info("no --model given: using the synthetic tiny model (its text is meaningless; speed and memory are real)");
  } else {
    f.engine.model_path = f.model;
  }
  if (!apply_tuned_setting(f)) apply_gpu_default(f);
  apply_gpu_batch_default(f);
  std::unique_ptr<Engine> engine;
  const HttpEngine* no_http = nullptr;
  return run_on(f, [&]() -> Expected<Engine*> {
    BW_ASSIGN_OR_RETURN(engine, make_llama_engine(f.engine));
    return engine.get();
  }, no_http);
}

int run_on(RunFlags& f, const EngineFactory& make_engine, const HttpEngine* const& http) {
  auto outcome = run_batch(f.run, [&]() -> Expected<Engine*> {
    BW_ASSIGN_OR_RETURN(Engine * engine, make_engine());
    log_info(engine->description());
    // From here Ctrl-C finishes what is in flight; before, it ends a model load at once.
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    return engine;
  });
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
    j["retried_failures"] = outcome->retried_failures;
    if (!outcome->partial_output.empty()) {
      j["files"]["partial_output"] = outcome->partial_output.string();
      j["files"]["partial_errors"] = outcome->partial_errors.string();
    }
    j["interrupted"] = outcome->interrupted;
    if (outcome->engine_failure) j["stopped"] = outcome->engine_failure->message;
    std::printf("%s\n", j.dump(2).c_str());
  } else if (log_level() >= LogLevel::kInfo) {  // -q: only errors
    std::fputs(report_text(r).c_str(), stderr);
    if (http) {
      for (const auto& v : http->endpoints()) {
        std::fprintf(stderr, "endpoint %s: %lld ok, %lld failed, taken out %lld times, concurrency limit %d (peak %d in flight)\n",
                     v.base_url.c_str(), (long long)v.ok, (long long)v.failed, (long long)v.times_down, v.limit,
                     v.max_outstanding);
      }
    }
  }
  if (!outcome->partial_output.empty()) {
    log_info("results so far: " + outcome->partial_output.string() + " and " + outcome->partial_errors.string() +
             " (partial; the full files are written when the job completes)");
  }
  if (outcome->interrupted) {
    log_warn("stopped: " + std::to_string(r.pending) + " requests left; run the same command again to resume");
    return kExitInterrupted;
  }
  if (outcome->engine_failure) {
    log_error("stopped: " + outcome->engine_failure->message + ". " + std::to_string(r.pending) +
              " requests are pending (none lost): run the same command again to resume");
    return kExitFatal;
  }
  if (r.pending == 0) {
    log_info("wrote " + std::to_string(r.ok) + " results to " + outcome->output.string() +
             (r.failed ? " and " + std::to_string(r.failed) + " errors to " + outcome->errors.string() : ""));
  }
  for (const std::string& line : retry_advice(r)) log_info(line);
  return r.failed > 0 ? kExitFailures : kExitOk;
}

}  // namespace

Verb add_run_command(CLI::App& app) {
  auto f = std::make_shared<RunFlags>();
  auto* sub = app.add_subcommand("run", "run an OpenAI Batch JSONL file to completion (resumable)");
  f->command = sub;
  sub->footer(
      "Results go to OUT (OpenAI batch output lines), failures to OUT.errors.jsonl, progress to stderr.\n"
      "The state database (default OUT.state.db) makes the job resumable: run the same command again after a\n"
      "crash or Ctrl-C and it continues where it stopped.");
  sub->add_option("input", f->input, "batch input JSONL (custom_id, method, url, body per line; url /v1/chat/completions, /v1/responses, "
                  "/v1/completions, or /v1/embeddings with an embedding model's GGUF)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("-o,--output", f->run.output, "output JSONL file")->required();
  sub->add_option("--errors", f->run.errors, "error JSONL file (default: OUT.errors.jsonl)");
  sub->add_option("--state", f->run.state, "state database (default: OUT.state.db)");
  sub->add_flag("--restart", f->run.restart, "discard an existing state and start over");
  sub->add_flag("--retry-failed", f->run.retry_failed,
                "run again the requests an earlier run of this job recorded as failed (after fixing the cause: "
                "--ctx, an API key, a server); every success is kept")
      ->excludes("--restart");
  sub->add_option("--shard", f->shard,
                  "I/N: run only the lines whose custom_id hashes to shard I of N (0-based; FNV-1a 64 mod N), "
                  "into OUT.shard-I-of-N.jsonl and its own state; `batchwise merge` joins the shards "
                  "(default: the whole input)");
  sub->add_flag("--force", f->force, "replace an existing OUT that is not this job's (no state beside it)");
  sub->add_option("--max-attempts", f->run.retry.max_attempts, "attempts per request for retryable failures")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  sub->add_option("-m,--model", f->model, "GGUF model (default: a cached synthetic tiny model)");
  add_parallel_option(*sub, f->engine.n_parallel,
                      "default: a cached `batchwise tune` result for this model, hardware and workload; else on one GPU 252 a lane "
                      "in 4 lanes as the GPU's memory allows (with --lanes and --ctx-size to match); else 64")
      ->capture_default_str();
  sub->add_option("-c,--ctx-size", f->engine.n_ctx, "KV cache cells, tokens, split evenly between lanes")->capture_default_str();
  add_lanes_option(*sub, f->engine.lanes, "0: on a GPU one per 128 sequences below 512 (2 to 4), else one per 252 (4 to 16); 1 on a CPU")->capture_default_str();
  add_embedded_engine_flags(*sub, f->engine);
  sub->add_option("--gpus", f->gpus,
                  "`all` or GPU numbers (0,1): one copy of the model on each, with its own lanes, --parallel "
                  "sequences and --ctx-size cells, fed from one queue (default: one copy, its layers split over every "
                  "GPU as llama.cpp does)");
  sub->add_option("--endpoint", f->http.endpoints,
                  "OpenAI-compatible server base URL (repeatable), e.g. http://127.0.0.1:8080 or .../v1; "
                  "when given, requests go there instead of the embedded engine");
  sub->add_option("--api-key-env", f->api_key_env,
                  "with --endpoint: name of the environment variable holding the API key (sent as Bearer)");
  add_http_engine_flags(*sub, f->http);
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
