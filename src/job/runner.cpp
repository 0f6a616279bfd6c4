#include "job/runner.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <queue>
#include <random>
#include <unordered_map>

#include "core/clock.h"
#include "core/files.h"
#include "core/log.h"
#include "hardware/nvml.h"
#include "job/batch_input.h"
#include "job/batch_output.h"
#include "job/job_store.h"
#include "job/progress.h"

namespace batchwise {
namespace {

// GPU memory and utilization sampled about once a second while the job runs (NVML, where present).
struct GpuUse {
  double next_s = 0;
  int samples = 0;
  int64_t peak_memory_bytes = 0;
  double utilization_sum = 0;

  void maybe_sample(GpuSampler& sampler) {
    const double now = now_s();
    if (now < next_s) return;
    next_s = now + 1.0;
    const auto s = sampler.sample();
    if (!s) return;
    samples++;
    peak_memory_bytes = std::max(peak_memory_bytes, s->memory_used_bytes);
    utilization_sum += s->utilization_percent;
  }
};

// Results from the engine's thread to the runner's.
class ResultQueue {
 public:
  void push(EngineResult r) {
    {
      std::lock_guard lock(mu_);
      items_.push_back(std::move(r));
    }
    cv_.notify_one();
  }
  std::vector<EngineResult> wait_and_take(double timeout_s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return !items_.empty(); });
    std::vector<EngineResult> out(std::make_move_iterator(items_.begin()), std::make_move_iterator(items_.end()));
    items_.clear();
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EngineResult> items_;
};

struct Retry {
  double due_s;
  int64_t line;
  bool operator>(const Retry& o) const { return due_s > o.due_s; }
};

// Opens the state and decides between a new job, a resumed one, and a refusal.
Expected<JobMeta> open_job(JobStore& store, const RunOptions& options, const BatchInput& input,
                           const std::string& input_hash) {
  BW_ASSIGN_OR_RETURN(std::optional<JobMeta> existing, store.job());
  if (existing && !options.restart) {
    if (existing->input_hash != input_hash) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the state " + options.state.string() + " belongs to a different input (" +
                            existing->input_path + ", changed since): pass --restart to discard that state and "
                            "start over, or --state to keep it and use another");
    }
    return *existing;
  }
  JobMeta meta;
  meta.input_path = std::filesystem::absolute(options.input).string();
  meta.input_hash = input_hash;
  meta.requests = static_cast<int64_t>(input.requests.size());
  meta.invalid_lines = static_cast<int64_t>(input.errors.size());
  meta.created_at = unix_time_s();
  BW_TRY(store.create_job(meta, input.errors));
  return meta;
}

ResultRecord to_record(const InputLine& line, EngineResult& r, int attempts) {
  ResultRecord rec;
  rec.line = line.line;
  rec.custom_id = line.custom_id;
  rec.attempts = attempts;
  rec.ok = !r.error.has_value();
  rec.status_code = r.status_code;
  if (rec.ok) {
    rec.body = !r.raw_body.empty() ? std::move(r.raw_body)
                                   : r.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    rec.error_code = std::string(error_code_name(r.error->code));
    rec.error_message = r.error->message;
    rec.body = std::move(r.raw_body);  // the server's error answer, if one came (the error line's `response`)
  }
  rec.prompt_tokens = r.prompt_tokens;
  rec.cached_tokens = r.cached_tokens;
  rec.completion_tokens = r.completion_tokens;
  rec.queue_ms = r.timings.queue_ms;
  rec.ttft_ms = r.timings.ttft_ms;
  rec.total_ms = r.timings.total_ms;
  rec.finished_at = unix_time_s();
  return rec;
}

}  // namespace

std::filesystem::path default_state_path(const std::filesystem::path& output) {
  std::string s = output.string();
  if (s.ends_with(".jsonl")) s.resize(s.size() - 6);
  return s + ".state.db";
}

Expected<RunOutcome> run_batch(const RunOptions& in, Engine& engine) {
  RunOptions options = in;
  if (options.errors.empty()) options.errors = default_error_path(options.output);
  if (options.state.empty()) options.state = default_state_path(options.output);
  const double start = now_s();

  BW_ASSIGN_OR_RETURN(BatchInput input, scan_batch_input(options.input));
  BW_ASSIGN_OR_RETURN(std::string input_hash, hash_file(options.input));
  for (const auto& e : input.errors) log_warn(e.message);
  BW_ASSIGN_OR_RETURN(std::unique_ptr<JobStore> store, JobStore::open(options.state));
  BW_ASSIGN_OR_RETURN(JobMeta meta, open_job(*store, options, input, input_hash));
  BW_ASSIGN_OR_RETURN(std::unordered_set<int64_t> finished, store->finished_lines());
  BW_ASSIGN_OR_RETURN(BatchReader reader, BatchReader::open(options.input));

  // What is left, in dispatch order: priority first, then requests sharing a prefix together.
  std::unordered_map<int64_t, const InputLine*> by_line;
  std::vector<const InputLine*> todo;
  for (const auto& line : input.requests) {
    by_line[line.line] = &line;
    if (!finished.contains(line.line)) todo.push_back(&line);
  }
  std::stable_sort(todo.begin(), todo.end(), [](const InputLine* a, const InputLine* b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    return a->prefix_key < b->prefix_key;
  });
  RunOutcome outcome;
  outcome.resumed = static_cast<int64_t>(finished.size());
  if (outcome.resumed > 0) {
    log_info("resuming " + options.state.string() + ": " + std::to_string(outcome.resumed) + " of " +
             std::to_string(meta.requests + meta.invalid_lines) + " already done");
  }

  ResultQueue results;
  BW_TRY(engine.start([&results](EngineResult r) { results.push(std::move(r)); }));
  std::deque<int64_t> ready;
  for (const InputLine* l : todo) ready.push_back(l->line);
  std::priority_queue<Retry, std::vector<Retry>, std::greater<>> retries;
  std::unordered_map<int64_t, int> attempts;
  std::mt19937_64 rng(42);
  size_t in_flight = 0;
  size_t limit = std::max<size_t>(1, engine.max_in_flight());
  const size_t max_limit = limit;
  size_t lowest_limit = limit;
  int64_t completion_tokens = 0, failed = 0, ok_since_cut = 0;
  Progress progress(meta.requests + meta.invalid_lines, options.progress_interval_s);
  bool stopping = false, stopped_hard = false;
  double stop_deadline = 0;
  std::vector<std::pair<double, int64_t>> rss_samples;  // (requests finished, rss)
  GpuSampler gpus;
  GpuUse gpu_use;

  std::vector<double> inter_token_ms;  // streamed answers finished in this run
  auto finish = [&](const InputLine& line, EngineResult& r) {
    if (r.error) failed++;
    if (!r.error && r.timings.itl_ms > 0) inter_token_ms.push_back(r.timings.itl_ms);
    completion_tokens += r.completion_tokens;
    store->append(to_record(line, r, attempts[line.line]));
  };

  while (true) {
    const int interrupts = options.interrupts ? options.interrupts->load() : 0;
    if (interrupts >= 1 && !stopping) {
      stopping = true;
      stop_deadline = now_s() + options.stop_grace_s;
      log_warn("interrupted: finishing " + std::to_string(in_flight) + " requests in flight (Ctrl-C again to stop now)");
      engine.stop(/*finish_in_flight=*/true);
    }
    if (stopping && !stopped_hard && (interrupts >= 2 || now_s() > stop_deadline)) {
      stopped_hard = true;
      engine.stop(/*finish_in_flight=*/false);
    }
    if (auto err = store->write_error(); err && !stopping) {
      stopping = stopped_hard = true;
      engine.stop(false);
    }
    // Due retries go first, then new work, while the engine wants more.
    while (!retries.empty() && retries.top().due_s <= now_s()) {
      ready.push_front(retries.top().line);
      retries.pop();
    }
    while (!stopping && in_flight < limit && !ready.empty()) {
      const InputLine& line = *by_line.at(ready.front());
      ready.pop_front();
      auto request = reader.read(line);
      attempts[line.line]++;
      if (!request) {
        EngineResult r;
        r.status_code = 400;
        r.error = request.error();
        finish(line, r);
        continue;
      }
      request->request_id = line.custom_id;
      request->prefix_key = line.prefix_key;
      if (!engine.submit(std::move(*request))) break;
      in_flight++;
    }
    if (in_flight == 0 && (stopping || (ready.empty() && retries.empty()))) break;

    for (EngineResult& r : results.wait_and_take(0.1)) {
      in_flight--;
      const InputLine& line = *by_line.at(static_cast<int64_t>(r.key));
      if (r.error && r.error->code == ErrorCode::kCancelled) {
        if (!stopping) ready.push_front(line.line);  // cancelled by the engine itself: run again
        continue;
      }
      // While stopping, a failure that would be retried is not recorded: it stays pending, and the
      // resume sends it again (a Ctrl-C must not turn a 503 into a final error).
      if (r.error && stopping && options.retry.should_retry(r.error->code, attempts[line.line])) continue;
      if (r.error && !stopping && options.retry.should_retry(r.error->code, attempts[line.line])) {
        if (r.error->code == ErrorCode::kOutOfMemory && limit > 1) {
          limit = std::max<size_t>(1, limit / 2);
          ok_since_cut = 0;
          if (limit < lowest_limit) {  // say it once per new low, not for every request
            lowest_limit = limit;
            log_warn("engine out of memory: lowering requests in flight to " + std::to_string(limit));
          }
        }
        // The server's Retry-After, when it gave one, is the least we wait.
        const double delay_s = std::max(r.retry_after_s, options.retry.delay_s(attempts[line.line], rng));
        retries.push({now_s() + delay_s, line.line});
        continue;
      }
      if (!r.error && limit < max_limit && ++ok_since_cut >= 64) {
        limit++;
        ok_since_cut = 0;
      }
      finish(line, r);
    }
    const int64_t done = outcome.resumed + store->committed();
    if (rss_samples.empty() || done - rss_samples.back().first >= 1000) {
      rss_samples.emplace_back(static_cast<double>(done), current_rss_bytes());
    }
    progress.update(done, failed, completion_tokens);
    gpu_use.maybe_sample(gpus);
  }
  engine.stop(true);
  Status flushed = store->flush();
  outcome.interrupted = stopping && !store->write_error();
  progress.finish(outcome.resumed + store->committed(), failed, completion_tokens);
  if (!flushed) return std::unexpected(flushed.error());

  outcome.output = options.output;
  outcome.errors = options.errors;
  outcome.state = options.state;
  outcome.engine = engine.stats();
  BW_ASSIGN_OR_RETURN(outcome.report, build_report(*store, meta));
  RunReport& rep = outcome.report;
  rep.wall_s = now_s() - start;
  const double session_done = static_cast<double>(store->committed());
  rep.requests_per_s = session_done / std::max(1e-9, rep.wall_s);
  rep.tokens_per_s = static_cast<double>(completion_tokens) / std::max(1e-9, rep.wall_s);
  if (outcome.resumed == 0) rep.evaluated_prompt_tokens = outcome.engine.prompt_tokens_evaluated;
  if (!inter_token_ms.empty()) rep.inter_token = latency_percentiles(inter_token_ms);
  rep.resources.peak_rss_bytes = peak_rss_bytes();
  if (rss_samples.size() >= 3) {
    const auto& [d0, r0] = rss_samples[1];  // skip the start-up sample: model loading is not a leak
    const auto& [d1, r1] = rss_samples.back();
    if (d1 > d0) rep.resources.rss_growth_bytes_per_1000 = static_cast<double>(r1 - r0) / (d1 - d0) * 1000.0;
    rep.resources.rss_leak_suspected = rep.resources.rss_growth_bytes_per_1000 > kLeakWarningBytesPer1000;
  }
  if (gpu_use.samples > 0) {
    rep.resources.peak_gpu_memory_bytes = gpu_use.peak_memory_bytes;
    rep.resources.mean_gpu_utilization = gpu_use.utilization_sum / gpu_use.samples;
  }
  if (!outcome.interrupted && rep.pending == 0) {
    BW_TRY(write_output_files(*store, options.output, options.errors));
  }
  return outcome;
}

}  // namespace batchwise
