// `batchwise run`: an OpenAI Batch JSONL file to completion on the embedded engine.
#include <csignal>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "core/log.h"
#include "engine/llama_engine.h"
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
  std::string model;
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

int run_command(RunFlags& f) {
  f.run.input = f.input;
  f.run.interrupts = &g_interrupts;
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
  log_info((*engine)->description());

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  auto outcome = run_batch(f.run, **engine);
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
    j["resumed"] = outcome->resumed;
    j["interrupted"] = outcome->interrupted;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::fputs(report_text(r).c_str(), stderr);
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
  sub->add_option("-p,--parallel", f->engine.n_parallel, "sequences decoded together (max 252)")
      ->capture_default_str()
      ->check(CLI::Range(1, 252));
  sub->add_option("-c,--ctx", f->engine.n_ctx, "KV cache cells shared by all sequences, tokens")->capture_default_str();
  sub->add_option("-b,--batch", f->engine.n_batch, "tokens per llama_decode")->capture_default_str();
  sub->add_option("--ubatch", f->engine.n_ubatch, "tokens per compute step")->capture_default_str();
  sub->add_option("-t,--threads", f->engine.n_threads, "CPU threads (0: all cores)")->capture_default_str();
  sub->add_option("--gpu-layers", f->engine.n_gpu_layers, "layers on the GPU (CUDA builds)")->capture_default_str();
  sub->add_option("--max-request-tokens", f->engine.max_request_tokens,
                  "prompt + max_tokens limit per request (0: the model's trained context)")
      ->capture_default_str();
  sub->add_option("--prefix-slots", f->engine.prefix_slots, "cached shared prefixes kept at once")->capture_default_str();
  sub->add_flag("!--no-flash-attn", f->engine.flash_attention, "disable flash attention (on where the backend has it)");
  sub->add_flag("--device-sampling", f->engine.device_sampling,
                "greedy argmax inside llama.cpp's graph: one token per sequence leaves the GPU, not its logits");
  sub->add_flag("--json", f->json, "print the report as JSON on stdout");
  return {sub, [f] { return run_command(*f); }};
}

}  // namespace batchwise
