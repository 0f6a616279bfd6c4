#include "job/runner.h"

#include <unistd.h>

#include <algorithm>
#include <optional>

#include "core/clock.h"
#include "core/log.h"
#include "hardware/nvml.h"
#include "job/batch_output.h"
#include "job/job_runner.h"
#include "job/progress.h"

namespace batchwise {
namespace {

// GPU memory and utilization sampled about once a second while the job runs (NVML, where present).
struct GpuUse {
  double next_s = 0;
  int samples = 0;
  int64_t peak_memory_bytes = 0;
  std::optional<int64_t> peak_own_bytes;  // this process's, where NVML lists it
  double utilization_sum = 0;

  void maybe_sample(GpuSampler& sampler) {
    const double now = now_s();
    if (now < next_s) return;
    next_s = now + 1.0;
    const auto s = sampler.sample();
    if (!s) return;
    samples++;
    peak_memory_bytes = std::max(peak_memory_bytes, s->memory_used_bytes);
    if (auto own = sampler.process_memory_bytes({static_cast<int>(::getpid())})) {
      peak_own_bytes = std::max(peak_own_bytes.value_or(0), *own);
    }
    utilization_sum += s->utilization_percent;
  }
};

// RSS against requests finished, to tell a leak from model loading.
struct RssTrend {
  std::vector<std::pair<double, int64_t>> samples;  // (requests finished, rss)

  void maybe_sample(int64_t done) {
    if (samples.empty() || static_cast<double>(done) - samples.back().first >= 1000) {
      samples.emplace_back(static_cast<double>(done), current_rss_bytes());
    }
  }
  void summarize(ResourceSummary& out) const {
    if (samples.size() < 3) return;
    const auto& [d0, r0] = samples[1];  // skip the start-up sample: model loading is not a leak
    const auto& [d1, r1] = samples.back();
    if (d1 > d0) out.rss_growth_bytes_per_1000 = static_cast<double>(r1 - r0) / (d1 - d0) * 1000.0;
    out.rss_leak_suspected = out.rss_growth_bytes_per_1000 > kLeakWarningBytesPer1000;
  }
};

// Says once per stall that nothing has finished for a while although work is in flight: a server that
// keeps its sockets open and never answers looks like this.
class StallWatch {
 public:
  explicit StallWatch(double warn_after_s) : warn_after_s_(warn_after_s), last_change_s_(now_s()) {}
  void update(int64_t done, size_t in_flight, Progress& progress) {
    const double now = now_s();
    if (done != last_done_ || in_flight == 0) {
      last_done_ = done;
      last_change_s_ = now;
      warned_ = false;
      return;
    }
    if (!warned_ && now - last_change_s_ > warn_after_s_) {
      warned_ = true;
      progress.clear();
      log_warn("no request finished in the last " + std::to_string(static_cast<int>(now - last_change_s_)) +
               " s with " + std::to_string(in_flight) +
               " in flight: is the engine or server stuck? Check the server's log and that it answers "
               "(curl BASE/v1/models); Ctrl-C stops, and the same command resumes");
    }
  }

 private:
  double warn_after_s_;
  double last_change_s_;
  int64_t last_done_ = -1;
  bool warned_ = false;
};

// Tokens generated so far: the embedded engine counts every decoded token as it goes (steps hold the
// prompt and the generated tokens), other engines only finished requests.
int64_t generated_so_far(const EngineStats& e, int64_t recorded_completion_tokens) {
  const int64_t stepped = e.steps > 0 ? e.step_tokens - e.prompt_tokens_evaluated : 0;
  return std::max({recorded_completion_tokens, e.generated_tokens, stepped});
}

}  // namespace

std::filesystem::path partial_path(const std::filesystem::path& path) {
  std::string s = path.string();
  if (s.ends_with(".jsonl")) s.resize(s.size() - 6);
  return s + ".partial.jsonl";
}

namespace {

// The results so far that an earlier, stopped run wrote: once the whole files are written they are a
// stale copy beside the real output, easy to read by mistake. A file that cannot be removed is named,
// not an error: the job itself is done.
void remove_partial_files(const std::filesystem::path& output, const std::filesystem::path& errors) {
  for (const auto& path : {partial_path(output), partial_path(errors)}) {
    std::error_code ec;
    if (!std::filesystem::remove(path, ec) && ec) {
      log_warn("could not remove " + path.string() + " (results of an earlier stopped run; the job is done, "
               "its output is whole): " + ec.message());
    }
  }
}

}  // namespace

Expected<RunOutcome> run_batch(const RunOptions& options, Engine& engine) {
  return run_batch(options, [&engine]() -> Expected<Engine*> { return &engine; });
}

Expected<RunOutcome> run_batch(const RunOptions& options, const EngineFactory& make_engine) {
  JobOptions job_options{options.input,   options.output,       options.errors, options.state,
                         options.restart, options.retry_failed, options.retry,  options.shard};
  BW_ASSIGN_OR_RETURN(std::shared_ptr<Job> job, Job::open(job_options));
  const JobOptions& o = job->options();
  RunOutcome outcome;
  outcome.resumed = job->resumed();
  outcome.retried_failures = job->retried_failures();
  const int64_t total = job->meta().requests + job->meta().invalid_lines;
  if (outcome.retried_failures > 0) {
    log_info("--retry-failed: " + std::to_string(outcome.retried_failures) + " failed requests will run again");
  }
  if (total == 0 && job->meta().input_lines == 0) {  // an empty shard of a non-empty file is fine
    return make_error(ErrorCode::kInvalidArgument, o.input.string() + " has no requests (no line that is not blank): "
                                                   "nothing to run; a batch file has one JSON request per line");
  }
  if (job->unsent() > 0 && outcome.resumed > 0 && !job->created()) {
    log_info("resuming " + o.state.string() + ": " + std::to_string(outcome.resumed) + " of " +
             std::to_string(total) + " already done");
  }
  Engine* engine = nullptr;
  std::optional<JobRunner> runner;
  double start = now_s();
  if (job->unsent() > 0) {
    BW_ASSIGN_OR_RETURN(engine, make_engine());
    start = now_s();  // the run's time starts once the engine is there: a model load is not throughput
    runner.emplace(*engine);
    BW_TRY(runner->start());
    runner->add(job);
  } else {
    log_info(o.state.string() + ": every request of this job has its result (" + std::to_string(outcome.resumed) +
             " of " + std::to_string(total) + "); nothing to run, so no model is loaded. The output is written "
             "again from the state; --restart runs the job again, --retry-failed its failures");
  }
  Progress progress(total, options.progress_interval_s);
  StallWatch stall(options.stall_warning_s);
  bool stopping = false, stopped_hard = false;
  double stop_deadline = 0;
  RssTrend rss;
  GpuSampler gpus;
  GpuUse gpu_use;
  JobStore& store = job->store();

  while (runner && !runner->idle()) {
    const int interrupts = options.interrupts ? options.interrupts->load() : 0;
    if (interrupts >= 1 && !stopping) {
      stopping = true;
      stop_deadline = now_s() + options.stop_grace_s;
      progress.clear();
      log_warn("interrupted: finishing " + std::to_string(runner->in_flight()) +
               " requests in flight (Ctrl-C again to stop now)");
      runner->stop(/*finish_in_flight=*/true);
    }
    if (stopping && !stopped_hard && (interrupts >= 2 || now_s() > stop_deadline)) {
      stopped_hard = true;
      runner->stop(/*finish_in_flight=*/false);
    }
    if (job->failure() && !stopping) {  // a failed write: stop now, the job cannot record answers
      stopping = stopped_hard = true;
      runner->stop(false);
    }
    if (!stopping) {
      if (std::optional<Error> failure = engine->failure()) {  // every endpoint stalled: end with the rest pending
        outcome.engine_failure = std::move(failure);
        stopping = stopped_hard = true;
        progress.clear();
        runner->stop(false);
      }
    }
    runner->step(0.1);
    const int64_t done = outcome.resumed + store.committed();
    rss.maybe_sample(done);
    stall.update(done, runner->in_flight(), progress);
    const EngineStats live = engine->stats();
    progress.update(done, job->failed(), generated_so_far(live, job->completion_tokens()),
                    live.prompt_tokens_evaluated);
    gpu_use.maybe_sample(gpus);
  }
  if (runner) runner->stop(true);
  Status flushed = job->flush();
  outcome.interrupted = stopping && !store.write_error() && !outcome.engine_failure;
  const EngineStats final_stats = engine ? engine->stats() : EngineStats{};
  progress.finish(outcome.resumed + store.committed(), job->failed(),
                  generated_so_far(final_stats, job->completion_tokens()), final_stats.prompt_tokens_evaluated);
  if (!flushed) return std::unexpected(flushed.error());

  if (auto st = store.add_run_ms(static_cast<int64_t>((now_s() - start) * 1000)); !st) {
    log_warn("could not store the run's time: " + st.error().message);
  }
  outcome.output = o.output;
  outcome.errors = o.errors;
  outcome.state = o.state;
  outcome.engine = final_stats;
  BW_ASSIGN_OR_RETURN(outcome.report, job->report());
  RunReport& rep = outcome.report;
  rep.wall_s = now_s() - start;
  const double session_done = static_cast<double>(store.committed());
  rep.requests_per_s = session_done / std::max(1e-9, rep.wall_s);
  rep.tokens_per_s = static_cast<double>(job->completion_tokens()) / std::max(1e-9, rep.wall_s);
  // The engine's count includes prompts of requests still in flight when a run was stopped: only a run
  // that did the whole job by itself can use it, else the figure comes from the recorded results.
  if (outcome.resumed == 0 && rep.pending == 0) rep.evaluated_prompt_tokens = outcome.engine.prompt_tokens_evaluated;
  if (!job->inter_token_ms().empty()) rep.inter_token = latency_percentiles(job->inter_token_ms());
  rep.resources.peak_rss_bytes = peak_rss_bytes();
  rss.summarize(rep.resources);
  if (gpu_use.samples > 0) {
    rep.resources.peak_gpu_memory_bytes = gpu_use.peak_memory_bytes;
    rep.resources.peak_gpu_process_memory_bytes = gpu_use.peak_own_bytes;
    rep.resources.mean_gpu_utilization = gpu_use.utilization_sum / gpu_use.samples;
  }
  if (rep.pending == 0) {
    BW_TRY(job->write_files(o.output, o.errors));
    remove_partial_files(o.output, o.errors);
  } else if (store.committed() + outcome.resumed > 0) {
    outcome.partial_output = partial_path(o.output);
    outcome.partial_errors = partial_path(o.errors);
    BW_TRY(job->write_files(outcome.partial_output, outcome.partial_errors));
  }
  return outcome;
}

}  // namespace batchwise
