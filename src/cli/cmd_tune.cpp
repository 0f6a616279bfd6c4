// `batchwise tune`: measures the best batch / concurrency for a workload (embedded llama.cpp, OpenAI-
// compatible endpoints, or any batch program), caches it, and plots it. The work is in src/tune/.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "core/files.h"
#include "core/log.h"
#include "hardware/device.h"
#include "job/workload.h"
#include "model/synth.h"
#include "tune/choice.h"
#include "tune/svg_plot.h"
#include "tune/tuner.h"

namespace batchwise {
namespace {

struct TuneFlags {
  TuneOptions tune;
  std::string model;
  std::string workload = "seed";
  std::string memory_limit;
  double slo_ttft_ms = 0;
  double slo_p95_ms = 0;
  int threads = 0;
  std::string run_flags;
  std::string plot;
  bool json = false;
};

// "8G", "512M", "1.5GiB", "1000000": binary units (K = 1024).
Expected<int64_t> parse_bytes(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  double scale = 0;
  if (unit.empty()) scale = 1;
  if (unit == "K") scale = 1024.0;
  if (unit == "M") scale = 1024.0 * 1024;
  if (unit == "G") scale = 1024.0 * 1024 * 1024;
  if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  if (used == 0 || scale == 0 || value <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--memory-limit `" + text + "`: give bytes, or a number with K, M, G or T (e.g. 8G)");
  }
  return static_cast<int64_t>(value * scale);
}

// A preset name becomes a generated file in the work folder; anything else must be a JSONL file.
Expected<std::filesystem::path> workload_file(TuneFlags& f) {
  if (f.workload != "seed" && f.workload != "chat" && f.workload != "long") {
    if (!std::filesystem::exists(f.workload)) {
      return make_error(ErrorCode::kNotFound, "--workload " + f.workload + ": not seed, chat, long or an existing JSONL file");
    }
    f.tune.workload_name = std::filesystem::path(f.workload).filename().string();
    return std::filesystem::path(f.workload);
  }
  f.tune.workload_name = f.workload + " workload";
  WorkloadOptions w;
  BW_ASSIGN_OR_RETURN(w.kind, parse_workload_kind(f.workload));
  w.count = f.tune.max_trial_requests;
  w.ignore_eos = true;  // every request generates max_tokens: trials compare like with like
  const auto path = f.tune.work_dir / (f.workload + ".jsonl");
  BW_TRY(write_workload(w, path));
  return path;
}

int run_tune(TuneFlags& f) {
  TuneOptions& o = f.tune;
  std::error_code ec;
  o.self_exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return report_error({ErrorCode::kInternal, "cannot find this binary (/proc/self/exe): " + ec.message()});
  auto cache = cache_dir();
  if (!cache) return report_error(cache.error());
  o.work_dir = *cache / "tune" / ("work-" + std::to_string(::getpid()));
  std::filesystem::create_directories(o.work_dir, ec);
  // Trial slices and outputs are scratch: gone however this function returns.
  struct RemoveOnReturn {
    std::filesystem::path dir;
    ~RemoveOnReturn() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } scratch{o.work_dir};
  if (!f.memory_limit.empty()) {
    auto bytes = parse_bytes(f.memory_limit);
    if (!bytes) return report_error(bytes.error());
    o.memory_limit_bytes = *bytes;
  }
  if (f.slo_ttft_ms > 0) o.slo.ttft_p95_ms = f.slo_ttft_ms;
  if (f.slo_p95_ms > 0) o.slo.total_p95_ms = f.slo_p95_ms;
  if (f.threads > 0) o.run_args = {"--threads", std::to_string(f.threads)};
  for (size_t at = 0; at < f.run_flags.size();) {  // split on spaces: flags, not shell words
    const size_t end = std::min(f.run_flags.find(' ', at), f.run_flags.size());
    if (end > at) o.run_args.push_back(f.run_flags.substr(at, end - at));
    at = end + 1;
  }
  if (!o.command.empty() && !o.endpoints.empty()) {
    return report_error({ErrorCode::kInvalidArgument, "give --cmd or --endpoint, not both"});
  }
  o.kind = !o.command.empty() ? TuneKind::kCommand : !o.endpoints.empty() ? TuneKind::kEndpoint : TuneKind::kEmbedded;
  if (o.kind == TuneKind::kCommand && o.command.find("{batch}") == std::string::npos) {
    return report_error({ErrorCode::kInvalidArgument, "--cmd needs {batch} where the batch size goes, e.g. --cmd 'python3 infer.py --batch {batch}'"});
  }
  if (o.max_trial_requests <= 0) {
    const auto hw = select_hardware(std::nullopt, 1);
    o.max_trial_requests = default_max_trial_requests(o.kind, hw && !hw->gpus.empty());
  }
  if (o.kind != TuneKind::kCommand) {
    auto w = workload_file(f);
    if (!w) return report_error(w.error());
    o.workload = *w;
  }
  if (o.kind == TuneKind::kEmbedded) {
    if (f.model.empty()) {
      auto tiny = default_tiny_model();
      if (!tiny) return report_error(tiny.error());
      o.model = *tiny;
      log_info("no --model given: tuning the synthetic tiny model (its text is meaningless; speed and memory are real)");
    } else {
      o.model = f.model;
    }
  }
  auto result = tune(o);
  if (!result) return report_error(result.error());
  if (result->from_cache) log_info("answered from the cache in " + std::to_string(result->answer_s).substr(0, 4) + " s (--refresh measures again)");
  if (!f.plot.empty()) {
    const PlotLabels labels{result->title,
                            o.kind == TuneKind::kEmbedded   ? "parallel sequences"
                            : o.kind == TuneKind::kEndpoint ? "requests in flight"
                                                            : "batch size",
                            o.kind == TuneKind::kCommand ? "items/s" : "requests/s"};
    if (auto st = write_file_atomic(f.plot, tune_plot_svg(result->trials, result->choice, labels)); !st) {
      return report_error(st.error());
    }
    log_info("plot written to " + f.plot);
  }
  if (f.json) {
    std::printf("%s\n", tune_result_json(*result).dump(2).c_str());
  } else {
    std::fputs(tune_result_text(*result).c_str(), stdout);
  }
  return result->choice.chosen ? kExitOk : kExitFailures;
}

}  // namespace

Verb add_tune_command(CLI::App& app) {
  auto f = std::make_shared<TuneFlags>();
  auto* sub = app.add_subcommand("tune", "measure the best batch / concurrency for a workload (no OOM crash, cached, plotted)");
  sub->footer(
      "How it searches: a trial runs a slice of the workload at one setting in a child process (`batchwise run\n"
      "--parallel K`, `run --endpoint --max-concurrency K`, or your --cmd), so a trial that runs out of memory\n"
      "ends that trial, not the tuner. It starts at 1 and at plan's recommendation, doubles while a doubling\n"
      "gains more than 3% and its memory (predicted from the trials so far + 10%) fits, then bisects between\n"
      "the best and the first setting past it, then tries more --lanes there (on a GPU). The choice is the\n"
      "highest throughput, or with --slo-* the highest whose measured p95 meets the SLO.\n"
      "The answer is cached per hardware, model, engine build and workload shape: the same call again answers\n"
      "at once, and `batchwise run` without --parallel/--lanes (or --max-concurrency) starts from it.\n"
      "Examples:\n"
      "  batchwise tune -m model.gguf --workload jobs.jsonl --slo-p95-ms 2000 --plot tune.svg\n"
      "  batchwise tune --endpoint http://127.0.0.1:8080 --workload jobs.jsonl\n"
      "  batchwise tune --cmd 'python3 examples/tune_batch_program.py --batch {batch}' --memory-limit 2G\n"
      "See docs/tune.md.");
  TuneOptions& o = f->tune;
  sub->add_option("-m,--model", f->model, "GGUF model to tune the embedded engine for (default: the synthetic tiny model)");
  sub->add_option("--workload", f->workload,
                  "seed, chat or long (generated, --trial-max-requests lines) or a batch JSONL file to take slices of")
      ->capture_default_str();
  sub->add_option("--endpoint", o.endpoints,
                  "tune requests in flight against this OpenAI-compatible server instead (repeatable)");
  sub->add_option("--cmd", o.command,
                  "tune any batch program: {batch} is replaced by the batch size; it prints {\"items\": N, \"seconds\": S}");
  sub->add_option("--min", o.min_knob, "smallest setting tried")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  sub->add_option("--max", o.max_knob, "largest setting tried (0: 252 parallel per lane, 256 in flight, 4096 batch)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  sub->add_option("--start", o.start, "where the doubling starts (0: plan's recommendation; 1 for --endpoint/--cmd)")
      ->capture_default_str();
  sub->add_option("--max-lanes", o.max_lanes, "most --lanes tried (0: 8 on a GPU, 1 on a CPU)")
      ->capture_default_str()
      ->check(CLI::Range(0, 16));
  sub->add_option("--slo-ttft-ms", f->slo_ttft_ms, "choose the fastest setting whose p95 time to first token is at most this, ms (0: none)");
  sub->add_option("--slo-p95-ms", f->slo_p95_ms, "choose the fastest setting whose p95 request latency is at most this, ms (0: none)");
  sub->add_option("--memory-limit", f->memory_limit,
                  "most memory a trial may use: bytes or 8G/512M (default: the GPU's memory, else available RAM)");
  sub->add_option("--min-gain", o.min_gain, "a doubling that gains no more than this fraction ends the doubling")
      ->capture_default_str();
  sub->add_option("--max-trials", o.max_trials, "most trials the search runs")->capture_default_str()->check(CLI::Range(1, 1000));
  sub->add_option("--trial-waves", o.trial_waves, "requests per trial, as a multiple of the setting")->capture_default_str();
  sub->add_option("--trial-min-requests", o.min_trial_requests, "fewest requests in a trial")->capture_default_str();
  sub->add_option("--trial-max-requests", o.max_trial_requests,
                  "most requests in a trial (and lines of a generated workload); settings above half of it are not tried "
                  "(0: 4096 for the embedded engine on a GPU, else 512)")
      ->capture_default_str();
  sub->add_option("--trial-timeout", o.trial_timeout_s, "seconds one trial may take before it is stopped")->capture_default_str();
  sub->add_option("-t,--threads", f->threads, "CPU threads per lane for embedded trials (0: run's default)")->capture_default_str();
  sub->add_option("--run-flags", f->run_flags,
                  "more `batchwise run` flags for every embedded/endpoint trial, space-separated (e.g. \"-b 4096 --ubatch 1024\")");
  sub->add_flag("--exhaustive", o.exhaustive, "measure every setting from --min to --max (what the search is compared with)");
  sub->add_flag("--refresh", o.refresh, "measure again even when the cache has an answer");
  sub->add_option("--plot", f->plot, "write throughput and p95 latency against the setting as an SVG file");
  sub->add_flag("--json", f->json, "print the result (every trial, the choice, the Pareto set) as JSON on stdout");
  return {sub, [f] { return run_tune(*f); }};
}

}  // namespace batchwise
