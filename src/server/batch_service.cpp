// BatchService's lifecycle part: opening the state, creating, reading and cancelling batches, and the worker that
// starts, finishes and expires them (the Files API is in batch_files.cpp, interactive requests in
// batch_interactive.cpp, /metrics and the live page in batch_status.cpp).
#include "server/batch_service.h"

#include <future>

#include "core/clock.h"
#include "core/files.h"
#include "core/log.h"
#include "core/thread.h"
#include "hardware/nvml.h"
#include "job/batch_input.h"
#include "job/job.h"
#include "server/batch_lifecycle.h"
#include "server/batch_live.h"
#include "server/batch_record.h"
#include "server/api_object.h"
#include "server/batch_window.h"
#include "server/ids.h"

namespace batchwise {
namespace {

constexpr size_t kRecentErrors = 20;

}  // namespace

BatchService::BatchService(BatchServiceOptions options, std::unique_ptr<ServerStore> store)
    : options_(std::move(options)), store_(std::move(store)) {}

Expected<std::unique_ptr<BatchService>> BatchService::open(BatchServiceOptions options, EnginePoolOptions pool_options) {
  BW_ASSIGN_OR_RETURN(auto store, ServerStore::open(options.state_dir));
  std::unique_ptr<BatchService> s(new BatchService(std::move(options), std::move(store)));
  BatchService* self = s.get();
  s->pool_ = std::make_unique<EnginePool>(std::move(pool_options), [self](std::shared_ptr<Job> job) {
    std::lock_guard lock(self->mu_);
    for (const auto& [id, live] : self->live_) {
      if (live->job == job) self->events_.push_back({EventKind::kIdle, id});
    }
    self->cv_.notify_all();
  });
  BW_ASSIGN_OR_RETURN(auto batches, s->store_->list("batch", SIZE_MAX));
  int resumed = 0;
  for (const auto& b : batches) {
    auto r = BatchRecord::from_stored(b);
    if (!r) {
      log_error("serve: " + r.error().message + ": left as it is");
      continue;
    }
    if (r->unfinished()) {
      s->events_.push_back({EventKind::kStart, r->id});
      s->open_batches_.insert(r->id);
      resumed++;
    }
  }
  if (resumed > 0) log_info("serve: taking up " + std::to_string(resumed) + " unfinished batches");
  s->worker_ = run_thread("serve worker", [self] { self->worker(); });
  return s;
}

BatchService::~BatchService() { shutdown(0); }

void BatchService::push(Event e) {
  std::lock_guard lock(mu_);
  events_.push_back(std::move(e));
  cv_.notify_all();
}

void BatchService::remember_error(const std::string& what) {
  std::lock_guard lock(mu_);
  recent_errors_.push_back(what);
  while (recent_errors_.size() > kRecentErrors) recent_errors_.pop_front();
}

Expected<BatchRecord> BatchService::load_batch(const std::string& id) {
  BW_ASSIGN_OR_RETURN(auto doc, store_->get("batch", id));
  if (!doc) return std::unexpected(not_found("batch", id));
  return BatchRecord::from_stored(*doc);
}

Status BatchService::update(const std::string& id, const std::function<void(BatchRecord&)>& change) {
  std::lock_guard lock(doc_mu_);
  BW_ASSIGN_OR_RETURN(BatchRecord r, load_batch(id));
  change(r);
  return store_->put("batch", id, r.to_stored());
}

// ---- batches ----

Expected<nlohmann::json> BatchService::create_batch(const nlohmann::json& req) {
  if (!req.is_object()) return make_error(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  const auto field = [&](const char* name) -> const nlohmann::json* {
    auto it = req.find(name);
    return it == req.end() || it->is_null() ? nullptr : &*it;
  };
  const nlohmann::json* input = field("input_file_id");
  if (!input || !input->is_string()) {
    return make_error(ErrorCode::kInvalidArgument, "field `input_file_id` is required (the id of an uploaded file)");
  }
  const std::string input_id = input->get<std::string>();
  BW_ASSIGN_OR_RETURN(auto file, is_file_id(input_id) ? store_->get("file", input_id)
                                                        : Expected<std::optional<nlohmann::json>>(std::nullopt));
  if (!file || file->value("purpose", "") != "batch") {
    return make_error(ErrorCode::kNotFound, "input_file_id `" + input_id + "`: no uploaded batch file has that id");
  }
  const nlohmann::json* endpoint = field("endpoint");
  if (!endpoint || !endpoint->is_string() || !api_kind_from_url(endpoint->get<std::string>())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "field `endpoint` must be " + api_kind_urls_text());
  }
  const nlohmann::json* window = field("completion_window");
  const std::string window_text = window && window->is_string() ? window->get<std::string>() : "";
  BW_ASSIGN_OR_RETURN(double window_s, parse_completion_window(window_text));
  const nlohmann::json* metadata = field("metadata");
  BW_TRY(check_metadata(metadata ? *metadata : nlohmann::json()));

  const std::string id = new_batch_id();
  {
    std::lock_guard lock(mu_);
    if (open_batches_.size() >= options_.max_open_batches) {
      return make_error(ErrorCode::kRateLimited,
                        std::to_string(open_batches_.size()) + " batches are not finished yet (--max-open-batches " +
                            std::to_string(options_.max_open_batches) + "): wait for one to finish, or cancel one");
    }
    open_batches_.insert(id);
  }
  BatchRecord r;
  r.id = id;
  r.endpoint = endpoint->get<std::string>();
  r.input_file_id = input_id;
  r.completion_window = window_text;
  r.created_at = unix_time_s();
  r.expires_at = r.created_at + static_cast<int64_t>(window_s);
  r.metadata = metadata ? *metadata : nlohmann::json();
  r.model = file->value("batchwise_model", "");
  BW_TRY(store_->put("batch", id, r.to_stored()));
  push({EventKind::kStart, id});
  return r.to_api();
}

nlohmann::json BatchService::with_counts(BatchRecord r) {
  std::shared_ptr<Live> live;
  {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(r.id); it != live_.end()) live = it->second;
  }
  if (live) r.request_counts = counts_of(live->job->counts());
  return r.to_api();
}

Expected<nlohmann::json> BatchService::get_batch(const std::string& id) {
  if (!is_batch_id(id)) return std::unexpected(not_found("batch", id));
  BW_ASSIGN_OR_RETURN(BatchRecord r, load_batch(id));
  return with_counts(std::move(r));
}

Expected<nlohmann::json> BatchService::list_batches(size_t limit, const std::string& after) {
  BW_ASSIGN_OR_RETURN(auto docs, store_->list("batch", limit + 1, after));
  for (auto& d : docs) {
    BW_ASSIGN_OR_RETURN(BatchRecord r, BatchRecord::from_stored(d));
    d = with_counts(std::move(r));
  }
  return list_object(std::move(docs), limit);
}

Expected<nlohmann::json> BatchService::cancel_batch(const std::string& id) {
  if (!is_batch_id(id)) return std::unexpected(not_found("batch", id));
  BW_TRY(update(id, [&](BatchRecord& r) { r.move(BatchStatus::kCancelling, unix_time_s()); }));
  {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(id); it != live_.end()) it->second->job->cancel();
  }
  return get_batch(id);
}

// ---- the worker: starts, finishes and expires batches ----

void BatchService::worker() {
  double next_check_s = 0;
  // Batches whose model had no free slot, oldest first, tried again each second. First come, first started: a
  // later batch never overtakes one that waits, or a model kept loaded by one batch after another could starve
  // the batches of the others.
  std::vector<std::string> waiting;
  while (true) {
    std::optional<Event> event;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_ || !events_.empty(); });
      if (stopping_) return;
      if (!events_.empty()) {
        event = std::move(events_.front());
        events_.pop_front();
      }
    }
    // Each event behind the boundary: a bug in one batch's handling fails that batch, not the worker.
    if (event) {
      const std::string id = event->batch_id;
      (void)run_guarded(
          "serve worker",
          [&] {
            if (event->kind == EventKind::kStart && (!waiting.empty() || !start_batch(id))) waiting.push_back(id);
            if (event->kind == EventKind::kIdle) finish_batch(id);
          },
          [&](const std::string& what) { fail_batch(id, "internal_error", "internal error: " + what); });
    }
    if (now_s() >= next_check_s) {
      next_check_s = now_s() + 1.0;
      check_windows();
      std::vector<std::string> again;
      for (const auto& id : waiting) {
        if (!again.empty() || !start_batch(id)) again.push_back(id);
      }
      waiting.swap(again);
    }
  }
}

bool BatchService::start_batch(const std::string& id) {
  auto loaded = load_batch(id);
  if (!loaded) log_error("serve: batch " + id + ": " + loaded.error().message);
  if (!loaded || !loaded->unfinished()) return true;
  const BatchRecord& b = *loaded;
  bool failed_batch = false;
  auto fail = [&](const std::string& code, const std::string& message) {
    failed_batch = true;
    fail_batch(id, code, message);
  };
  auto model = pool_->resolve(b.model);
  if (!model) return fail("model_not_found", model.error().message), failed_batch;
  // The model first: while every model slot is pinned the batch waits, and is not opened again each time.
  auto lease = pool_->acquire(*model, {.for_batch = true});
  if (!lease) {
    if (lease.error().code == ErrorCode::kUnavailable) return false;  // every model slot busy: again soon
    return fail("model_unavailable", lease.error().message), failed_batch;
  }
  const auto dir = store_->batch_dir(id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  JobOptions o;
  o.input = store_->file_path(b.input_file_id);
  o.output = dir / "output.jsonl";
  o.errors = dir / "errors.jsonl";
  o.state = dir / "state.db";
  o.retry = options_.retry;
  std::shared_ptr<const BatchInput> scanned;
  {
    std::lock_guard lock(mu_);
    for (const auto& [file_id, scan] : recent_scans_) {
      if (file_id == b.input_file_id) scanned = scan;
    }
  }
  if (scanned) log_debug("serve: batch " + id + " starts from its upload's scan (the file is not read again)");
  auto job = scanned ? Job::open(o, *scanned) : Job::open(o);
  if (!job) return fail("invalid_file", job.error().message), failed_batch;
  std::shared_ptr<Job> shared = std::move(*job);
  const std::string model_id = *model;
  shared->set_observer([this, model_id, id](const ResultRecord& r) {
    metrics_.observe(model_id, r, false);
    if (!r.ok) remember_error(id + " " + r.custom_id + ": " + r.error_code + ": " + r.error_message);
  });
  const JobCounts counts = shared->counts();
  auto live = std::make_shared<Live>(Live{shared, std::move(*lease), now_s(), counts.ok + counts.failed,
                                          shared->store().stored().completion_tokens});
  std::optional<Error> store_error;
  Status started = update(id, [&](BatchRecord& d) {
    for (const char* part : {"output", "errors"}) {
      std::optional<std::string>& field = std::string_view(part) == "output" ? d.output_file_id : d.error_file_id;
      if (field) continue;
      const std::string fid = new_file_id();
      if (auto st = store_->put("file", fid,
                                {{"id", fid}, {"object", "file"}, {"bytes", 0}, {"created_at", unix_time_s()},
                                 {"filename", id + "_" + part + ".jsonl"}, {"purpose", "batch_output"},
                                 {"status", "processed"}, {"status_details", nullptr}, {"batchwise_batch", id},
                                 {"batchwise_part", part}});
          !st) {
        store_error = st.error();
        continue;
      }
      field = fid;
    }
    if (d.status == BatchStatus::kValidating) d.move(BatchStatus::kInProgress, unix_time_s());
    if (d.model.empty()) d.model = model_id;  // the model it runs on, when the lines named none
    d.request_counts = counts_of(counts);
    if (shared->meta().invalid_lines > 0) {
      d.set_error("invalid_request", std::to_string(shared->meta().invalid_lines) +
                                         " lines of the input are not valid requests: see the error file");
    }
    if (d.status == BatchStatus::kCancelling) shared->cancel();
  });
  if (!started) store_error = started.error();
  if (store_error) {
    // Not started: its lease goes with `live`, and the worker tries again (a full disk may be freed).
    log_error("serve: batch " + id + ": cannot record its start: " + store_error->message);
    remember_error(id + ": cannot record its start: " + store_error->message);
    return false;
  }
  {
    std::lock_guard lock(mu_);
    live_[id] = live;
  }
  live->lease.runner().add(shared);
  return true;
}

void BatchService::fail_batch(const std::string& id, const std::string& code, const std::string& message) {
  log_warn("serve: batch " + id + " failed: " + message);
  remember_error(id + ": " + message);
  std::shared_ptr<Live> live;
  {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(id); it != live_.end()) {
      live = std::move(it->second);  // its lease is given back outside the lock, when `live` goes
      live_.erase(it);
    }
  }
  if (live) live->job->cancel();
  {
    std::lock_guard lock(mu_);
    open_batches_.erase(id);
  }
  const std::optional<JobCounts> counts = live ? std::optional(live->job->counts()) : std::nullopt;
  if (auto st = update(id, [&](BatchRecord& d) {
        if (!d.move(BatchStatus::kFailed, unix_time_s())) return;  // it had ended already: it stays so
        d.set_error(code, message);
        if (counts) d.request_counts = counts_of(*counts);
      });
      !st) {
    log_error("serve: batch " + id + ": cannot record that it failed: " + st.error().message);
  }
}

void BatchService::finish_batch(const std::string& id) {
  std::shared_ptr<Live> live;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;  // a batch stopped by shutdown stays in_progress and resumes at the next start
    auto it = live_.find(id);
    if (it == live_.end()) return;
    live = it->second;
  }
  Job& job = *live->job;
  // A job that stopped for good (its state could not be written, its runner failed), or whose last
  // results cannot be made durable, ends `failed` with the reason: what it committed stays in its state.
  std::optional<Error> failure = job.failure();
  if (!failure) {
    if (auto st = job.flush(); !st) failure = st.error();
  }
  if (failure) return fail_batch(id, std::string(error_code_name(failure->code)), failure->message);
  auto record = load_batch(id);
  if (!record) return log_error("serve: batch " + id + ": " + record.error().message);
  const BatchStatus status = record->status;
  const bool expiring = record->expiring;
  if (status == BatchStatus::kInProgress && !expiring) {
    if (auto st = update(id, [&](BatchRecord& d) { d.move(BatchStatus::kFinalizing, unix_time_s()); }); !st) {
      log_warn("serve: batch " + id + ": cannot record that it is finalizing: " + st.error().message);
    }
  }
  const auto dir = store_->batch_dir(id);
  // A cancelled or expired batch accounts for every input line: those that never ran go to the error
  // file as batch_cancelled / batch_expired errors, as OpenAI's do.
  const bool cancelling = status == BatchStatus::kCancelling;
  std::optional<Error> unfinished;
  std::string unfinished_code;
  if (cancelling || expiring) {
    unfinished = Error{ErrorCode::kCancelled, cancelling ? "the batch was cancelled before this request ran"
                                                         : "the batch expired before this request ran"};
    unfinished_code = cancelling ? "batch_cancelled" : "batch_expired";
  }
  auto written = job.write_files(dir / "output.jsonl", dir / "errors.jsonl", unfinished, unfinished_code);
  if (!written) {
    return fail_batch(id, std::string(error_code_name(written.error().code)), "writing the output: " + written.error().message);
  }
  const JobCounts c = job.counts();
  // Not live from here: a client that sees the batch completed and downloads gets the file written above (its
  // Content-Length, Ranges), not the results streamed from the state. Its lease goes with `live`, outside the lock.
  {
    std::lock_guard lock(mu_);
    live_.erase(id);
    open_batches_.erase(id);
  }
  if (auto st = update(id, [&](BatchRecord& d) {
    const BatchStatus to = d.status == BatchStatus::kCancelling ? BatchStatus::kCancelled
                           : expiring                           ? BatchStatus::kExpired
                                                                : BatchStatus::kCompleted;
    if (!d.move(to, unix_time_s())) {
      log_warn("serve: batch " + id + " is " + std::string(batch_status_name(d.status)) + ": it does not become " +
               std::string(batch_status_name(to)));
      return;
    }
    d.request_counts = counts_of(c);
    for (const bool output : {true, false}) {
      std::optional<std::string>& field = output ? d.output_file_id : d.error_file_id;
      if (!field) continue;
      const std::string fid = *field;
      if (!output && written->failed == 0) {
        // OpenAI gives an error file only when there are errors.
        field.reset();
        if (auto st = store_->remove("file", fid); !st) log_warn("serve: " + st.error().message);
        continue;
      }
      const auto path = dir / (output ? "output.jsonl" : "errors.jsonl");
      std::error_code ec;
      const auto bytes = std::filesystem::file_size(path, ec);
      if (auto f = store_->get("file", fid); f && *f) {
        (**f)["bytes"] = ec ? 0 : bytes;
        if (auto st = store_->put("file", fid, **f); !st) log_warn("serve: " + st.error().message);
      }
    }
  });
      !st) {
    remember_error(id + ": recording its end: " + st.error().message);
  }
}

void BatchService::check_windows() {
  std::vector<std::pair<std::string, std::shared_ptr<Live>>> live;
  {
    std::lock_guard lock(mu_);
    live.assign(live_.begin(), live_.end());
  }
  const int64_t now = unix_time_s();
  for (auto& [id, l] : live) {
    auto r = load_batch(id);
    if (!r || r->status != BatchStatus::kInProgress || r->expiring || now < r->expires_at) continue;
    log_warn("serve: batch " + id + " passed its completion window: stopping it, keeping what it has");
    if (auto st = update(id, [](BatchRecord& d) { d.expiring = true; }); !st) {
      log_error("serve: batch " + id + ": cannot record that it expires: " + st.error().message);
    }
    l->job->cancel();
  }
}

void BatchService::shutdown(double grace_s) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
  if (pool_) pool_->shutdown(grace_s);
  std::map<std::string, std::shared_ptr<Live>> gone;
  std::lock_guard lock(mu_);
  gone.swap(live_);
}

}  // namespace batchwise
