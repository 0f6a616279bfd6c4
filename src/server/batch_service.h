// BatchService: the Files and Batches APIs' behaviour, without HTTP. Uploaded files are checked as batch
// files and kept in the state folder; a batch becomes a Job (its own state database, so it resumes
// exactly as `run` does) on its model's JobRunner, and moves through OpenAI's statuses: validating ->
// in_progress -> finalizing -> completed, or failed (nothing valid to run), expired (past its
// completion window: what was done is kept), cancelling -> cancelled (what was in flight finishes and is
// kept). A batch's output and error files exist from the moment it starts, and downloading them gives
// the results committed so far. On start-up every batch that was not finished is taken up again.
// Interactive completions go to the same engines, ahead of batch work.
//
// Threads: every public method may be called from any thread (HTTP handlers). One worker thread of its
// own starts batches, finishes them and checks completion windows.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "core/status.h"
#include "hardware/nvml.h"
#include "job/batch_input.h"
#include "server/batch_record.h"
#include "server/engine_pool.h"
#include "server/file_download.h"
#include "server/metrics.h"
#include "server/server_store.h"

namespace batchwise {

struct BatchServiceOptions {
  std::filesystem::path state_dir;
  RetryPolicy retry;
  double interactive_timeout_s = 600;
  size_t max_open_batches = 1000;       // batches not finished yet, at most; past it create is 429
  size_t max_queued_interactive = 256;  // interactive requests waiting for their answer; past it 429
};

class BatchService {
 public:
  // Opens the state folder and takes up every unfinished batch. `pool` outlives the service's shutdown().
  static Expected<std::unique_ptr<BatchService>> open(BatchServiceOptions options, EnginePoolOptions pool_options);
  ~BatchService();

  Expected<nlohmann::json> create_file(const std::string& filename, const std::string& purpose,
                                       const std::string& content);
  Expected<nlohmann::json> get_file(const std::string& id);
  Expected<nlohmann::json> list_files(size_t limit, const std::string& after);
  // A file's bytes, to be sent a chunk at a time: an upload or a finished batch's file from disk; a
  // running batch's results so far from its state, read over a connection of the download's own.
  Expected<std::unique_ptr<FileDownload>> file_content(const std::string& id);
  Expected<nlohmann::json> delete_file(const std::string& id);

  Expected<nlohmann::json> create_batch(const nlohmann::json& request);
  Expected<nlohmann::json> get_batch(const std::string& id);
  Expected<nlohmann::json> list_batches(size_t limit, const std::string& after);
  Expected<nlohmann::json> cancel_batch(const std::string& id);

  // An interactive request; the answer's body (as the engine produced it) or its error.
  Expected<std::string> complete(ApiKind kind, const nlohmann::json& body);
  // The model a request names, resolved (its error: unknown model), checked before a streamed answer starts.
  Expected<std::string> interactive_model(const nlohmann::json& body) const;
  // An interactive request with `stream: true`: OpenAI's chunk objects, each given to `write` (the text as the
  // embedded engine generates it, then the finish reason, then usage if stream_options.include_usage asks; an error
  // after the start is one {"error": ...} event), or for /v1/responses the Responses API's events (response_events.h;
  // an error is its `error` event). `write` returns false once the client is gone: nothing more is written, and the
  // call still waits for the engine to finish the request.
  void complete_streaming(ApiKind kind, const nlohmann::json& body, const std::function<bool(const nlohmann::json&)>& write);
  nlohmann::json models_list() const;

  std::string metrics_text();
  void count_http_request(int status_code) { metrics_.count_http_request(status_code); }
  // The live page's data: batches with progress and rates, models, GPU, recent errors.
  nlohmann::json status_json();

  // Stops taking work; batches in progress stay in_progress in the state and resume at the next start.
  void shutdown(double grace_s);

 private:
  struct Live;
  enum class EventKind { kStart, kIdle };
  struct Event {
    EventKind kind;
    std::string batch_id;
  };
  BatchService(BatchServiceOptions options, std::unique_ptr<ServerStore> store);
  void worker();
  // false: the batch's model has no free slot now; try again later.
  bool start_batch(const std::string& id);
  void finish_batch(const std::string& id);
  // The batch ends `failed` with this error (OpenAI's errors.data[0]); a live one leaves its runner.
  void fail_batch(const std::string& id, const std::string& code, const std::string& message);
  void check_windows();
  Expected<BatchRecord> load_batch(const std::string& id);
  // Reads the batch, changes it and writes it back, one change at a time (doc_mu_).
  Status update(const std::string& id, const std::function<void(BatchRecord&)>& change);
  // The API object, its counts the live job's where it runs.
  nlohmann::json with_counts(BatchRecord batch);
  void push(Event e);
  void remember_error(const std::string& what);
  std::optional<GpuSampler::Sample> sample_gpu();

  BatchServiceOptions options_;
  std::unique_ptr<ServerStore> store_;
  std::unique_ptr<EnginePool> pool_;
  ServeMetrics metrics_;

  std::mutex mu_;  // live_, events_, recent_errors_, stopping_
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Live>> live_;
  std::deque<Event> events_;
  std::deque<std::string> recent_errors_;
  bool stopping_ = false;
  std::set<std::string> open_batches_;  // not finished yet (guarded by mu_)
  // The scans of the last uploads (guarded by mu_): a batch made from one starts without reading the file again.
  static constexpr size_t kRecentScans = 2;
  std::deque<std::pair<std::string, std::shared_ptr<const BatchInput>>> recent_scans_;
  std::atomic<size_t> interactive_waiting_{0};
  // An interactive request handed to its model's runner (batch_interactive.cpp); `on_text` (may be empty) streams
  // its text, `on_done` gets the answer. finish_interactive counts the answer in /metrics.
  struct Interactive;
  Expected<Interactive> submit_interactive(ApiKind kind, const nlohmann::json& body, std::string request_id,
                                           std::function<void(std::string_view)> on_text,
                                           std::function<void(EngineResult)> on_done);
  Expected<EngineResult> finish_interactive(const Interactive& in, EngineResult r);
  std::mutex doc_mu_;  // read-modify-write of batch documents
  std::mutex gpu_mu_;
  GpuSampler gpus_;
  std::thread worker_;
};

}  // namespace batchwise
