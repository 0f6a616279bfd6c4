#include "job/job.h"

#include <algorithm>
#include <limits>

#include "core/clock.h"
#include "core/files.h"
#include "core/log.h"
#include "job/batch_output.h"

namespace batchwise {

ResultRecord answer_figures(const EngineResult& r) {
  ResultRecord rec;
  rec.ok = !r.error.has_value();
  rec.prompt_tokens = r.prompt_tokens;
  rec.cached_tokens = r.cached_tokens;
  rec.completion_tokens = r.completion_tokens;
  rec.queue_ms = r.timings.queue_ms;
  rec.ttft_ms = r.timings.ttft_ms;
  rec.total_ms = r.timings.total_ms;
  rec.finished_at = unix_time_s();
  return rec;
}

namespace {

// Opens the state and decides between a new job, a resumed one, and a refusal.
Expected<JobMeta> open_state(JobStore& store, const JobOptions& options, const BatchInput& input,
                             const std::string& input_hash, bool& created) {
  created = false;
  BW_ASSIGN_OR_RETURN(std::optional<JobMeta> existing, store.job());
  if (existing && !options.restart) {
    if (existing->input_hash != input_hash) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the state " + options.state.string() + " belongs to a different input (" +
                            existing->input_path + ", changed since): pass --restart to discard that state and "
                            "start over, or --state to keep it and use another");
    }
    if (existing->shard != options.shard) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the state " + options.state.string() + " holds shard " + shard_name(existing->shard) +
                            " of its input, not " + shard_name(options.shard) +
                            ": give each shard its own --state (the default OUT.shard-I-of-N.state.db does)");
    }
    return *existing;
  }
  JobMeta meta;
  meta.input_path = std::filesystem::absolute(options.input).string();
  meta.input_hash = input_hash;
  meta.requests = static_cast<int64_t>(input.requests.size());
  meta.invalid_lines = static_cast<int64_t>(input.errors.size());
  meta.created_at = unix_time_s();
  meta.shard = options.shard;
  meta.input_lines = input.total_lines;
  BW_TRY(store.create_job(meta, input.errors));
  created = true;
  return meta;
}

ResultRecord to_record(const InputLine& line, EngineResult& r, int attempts) {
  ResultRecord rec = answer_figures(r);
  rec.line = line.line;
  rec.custom_id = line.custom_id;
  rec.attempts = attempts;
  rec.status_code = r.status_code;
  if (rec.ok) {
    rec.body = !r.raw_body.empty() ? std::move(r.raw_body)
                                   : r.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    rec.error_code = std::string(error_code_name(r.error->code));
    rec.error_message = r.error->message;
    rec.body = std::move(r.raw_body);  // the server's error answer, if one came (the error line's `response`)
  }
  return rec;
}

}  // namespace

std::filesystem::path default_state_path(const std::filesystem::path& output) {
  std::string s = output.string();
  if (s.ends_with(".jsonl")) s.resize(s.size() - 6);
  return s + ".state.db";
}

Job::~Job() = default;

Expected<std::unique_ptr<Job>> Job::open(JobOptions options) {
  BW_ASSIGN_OR_RETURN(BatchInput scanned, scan_batch_input(options.input));
  return open(std::move(options), std::move(scanned));
}

Expected<std::unique_ptr<Job>> Job::open(JobOptions options, BatchInput scanned) {
  if (options.errors.empty()) options.errors = default_error_path(options.output);
  if (options.state.empty()) options.state = default_state_path(options.output);
  std::unique_ptr<Job> job(new Job());
  job->options_ = std::move(options);
  const JobOptions& o = job->options_;

  job->input_ = std::move(scanned);
  keep_shard(job->input_, o.shard);
  const std::string input_hash = job->input_.input_hash;
  BW_ASSIGN_OR_RETURN(job->store_, JobStore::open(o.state));
  BW_ASSIGN_OR_RETURN(job->meta_, open_state(*job->store_, o, job->input_, input_hash, job->created_));
  if (o.retry_failed) {
    BW_ASSIGN_OR_RETURN(job->forgotten_, job->store_->forget_failures());
  }
  job->failed_before_ = job->store_->stored().failed;
  BW_ASSIGN_OR_RETURN(std::unordered_set<int64_t> finished, job->store_->finished_lines());
  BW_ASSIGN_OR_RETURN(BatchReader reader, BatchReader::open(o.input));
  job->reader_.emplace(std::move(reader));

  // What is left, in dispatch order: priority first, then requests sharing a prefix together, each group
  // where its first line is. Ordered by the key's hash instead, requests whose prompts share nothing were
  // sent in random line order: their results landed all over the state's B-tree (a group commit of 200
  // wrote up to 200 pages, 15x the rows' bytes) and the input was read back from everywhere.
  // Two sorts of one array, no map: a million lines take 24 MB here.
  struct Place {
    int64_t priority;
    uint64_t group;  // the prefix key, then the first line of the requests sharing it
    int64_t line;
    bool operator<(const Place& o) const {
      return priority != o.priority ? priority > o.priority : group != o.group ? group < o.group : line < o.line;
    }
  };
  std::vector<Place> todo;
  for (const auto& line : job->input_.requests) {
    if (!finished.contains(line.line)) todo.push_back({line.priority, line.prefix_key, line.line});
  }
  std::sort(todo.begin(), todo.end());
  int64_t run_priority = 0, run_line = 0;
  uint64_t run_key = 0;
  for (size_t i = 0; i < todo.size(); ++i) {
    if (i == 0 || todo[i].priority != run_priority || todo[i].group != run_key) {
      run_priority = todo[i].priority, run_key = todo[i].group, run_line = todo[i].line;
    }
    todo[i].group = static_cast<uint64_t>(run_line);
  }
  std::sort(todo.begin(), todo.end());
  for (const Place& p : todo) job->ready_.push_back(p.line);
  job->attempts_.assign(job->input_.requests.size(), 0);
  job->resumed_ = static_cast<int64_t>(finished.size());
  return job;
}

size_t Job::index_of(int64_t line) const {
  const auto& r = input_.requests;
  const auto it = std::lower_bound(r.begin(), r.end(), line, [](const InputLine& l, int64_t n) { return l.line < n; });
  // Only lines of this input are ever asked for (the engine echoes the keys it was given).
  return static_cast<size_t>(it - r.begin());
}

void Job::fail(Error reason) {
  {
    std::lock_guard lock(failure_mu_);
    if (!failure_) failure_ = std::move(reason);
  }
  cancelled_ = true;
}

std::optional<Error> Job::failure() const {
  {
    std::lock_guard lock(failure_mu_);
    if (failure_) return failure_;
  }
  return store_->write_error();
}

std::optional<EngineRequest> Job::next_request() {
  if (!cancelled_) {
    if (auto e = store_->write_error()) fail(*e);  // a full disk: stop sending, whatever the front door
  }
  if (cancelled_) return std::nullopt;
  while (!retries_.empty() && retries_.top().due_s <= now_s()) {
    ready_.push_front(retries_.top().line);
    retries_.pop();
  }
  while (!ready_.empty()) {
    const InputLine& line = input_.requests[index_of(ready_.front())];
    ready_.pop_front();
    attempts(line)++;
    auto request = reader_->read_body(line);
    if (!request) {
      EngineResult r;
      r.status_code = 400;
      r.error = request.error();
      record(line, r);
      continue;
    }
    request->request_id = line.custom_id;
    request->prefix_key = line.prefix_key;
    in_flight_++;
    return std::move(*request);
  }
  return std::nullopt;
}

void Job::give_back(int64_t line) {
  in_flight_--;
  attempts(input_.requests[index_of(line)])--;
  ready_.push_front(line);
}

AnswerEffect Job::on_answer(EngineResult answer, bool stopping) {
  in_flight_--;
  AnswerEffect effect;
  const InputLine& line = input_.requests[index_of(static_cast<int64_t>(answer.key))];
  stopping = stopping || cancelled_;
  if (answer.error && answer.error->code == ErrorCode::kCancelled) {
    if (!stopping) ready_.push_front(line.line);  // cancelled by the engine itself: run again
    return effect;
  }
  if (answer.error && options_.retry.should_retry(answer.error->code, attempts(line))) {
    effect.out_of_memory = answer.error->code == ErrorCode::kOutOfMemory;
    // Stopping: the line stays pending, so a resume sends it again rather than keeping this failure.
    if (stopping) return effect;
    // The server's Retry-After, when it gave one, is the least we wait.
    const double delay_s = std::max(answer.retry_after_s, options_.retry.delay_s(attempts(line), rng_));
    retries_.push({now_s() + delay_s, line.line});
    return effect;
  }
  effect.succeeded = !answer.error;
  record(line, answer);
  return effect;
}

void Job::record(const InputLine& line, EngineResult& answer) {
  if (answer.error) failed_++;
  if (!answer.error && answer.timings.itl_ms > 0) inter_token_ms_.push_back(answer.timings.itl_ms);
  completion_tokens_ += answer.completion_tokens;
  ResultRecord rec = to_record(line, answer, attempts(line));
  if (observer_) observer_(rec);
  if (auto st = store_->append(std::move(rec)); !st) fail(st.error());
}

double Job::next_send_in_s() const {
  if (cancelled_) return std::numeric_limits<double>::infinity();
  if (!ready_.empty()) return 0;
  if (retries_.empty()) return std::numeric_limits<double>::infinity();
  return std::max(0.0, retries_.top().due_s - now_s());
}

bool Job::idle() const {
  return in_flight_ == 0 && (cancelled_ || (ready_.empty() && retries_.empty()));
}

JobCounts Job::counts() const {
  const JobStore::Stored s = store_->stored();
  return {meta_.requests + meta_.invalid_lines, s.ok, s.failed};
}

Expected<RunReport> Job::report() { return build_report(*store_, meta_); }

Expected<WrittenFiles> Job::write_files(const std::filesystem::path& output, const std::filesystem::path& errors,
                                        const std::optional<Error>& unfinished, const std::string& unfinished_code) {
  if (!unfinished) return write_output_files(*store_, output, errors);
  // The committed results and the lines without one, merged in line order (both are sorted by line),
  // a page of results at a time.
  std::vector<ResultRecord> page;
  size_t in_page = 0, next_line = 0;
  int64_t after = -1;
  bool results_left = true;
  const auto& lines = input_.requests;
  auto next = [&](ResultRecord& r) -> Expected<bool> {
    if (in_page == page.size() && results_left) {
      BW_ASSIGN_OR_RETURN(page, store_->results_after(after, 1024));
      in_page = 0;
      results_left = !page.empty();
    }
    const ResultRecord* stored = in_page < page.size() ? &page[in_page] : nullptr;
    while (next_line < lines.size() && stored && lines[next_line].line == stored->line) next_line++;
    if (next_line < lines.size() && (!stored || lines[next_line].line < stored->line)) {
      const InputLine& l = lines[next_line++];
      r = ResultRecord{};
      r.line = l.line;
      r.custom_id = l.custom_id;
      r.error_code = unfinished_code;
      r.error_message = unfinished->message;
      return true;
    }
    if (!stored) return false;
    r = *stored;
    after = stored->line;
    in_page++;
    return true;
  };
  return write_result_files(next, output, errors);
}

}  // namespace batchwise
