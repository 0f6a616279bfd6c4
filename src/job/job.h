// Job: one batch file on its way to completion. It holds the input (scanned once, each line read again
// by byte offset when it is sent), its durable state (a JobStore), and what is left to send, in dispatch
// order (priority first, requests sharing a prompt prefix together), with retries waiting for their time
// and the attempts of every line. It decides what each engine answer means — a result to commit, a retry,
// or work that stays pending — but sends nothing itself: a JobRunner takes its requests to an engine.
//
// Threads: one thread (the runner's) calls everything except counts(), cancel(), fail() and failure(),
// which any thread may call.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "job/batch_input.h"
#include "job/batch_output.h"
#include "job/job_store.h"
#include "job/report.h"
#include "job/retry_policy.h"
#include "job/shard.h"

namespace batchwise {

struct JobOptions {
  std::filesystem::path input;
  std::filesystem::path output;   // OUT.jsonl
  std::filesystem::path errors;   // empty: OUT.errors.jsonl
  std::filesystem::path state;    // empty: OUT.state.db
  bool restart = false;           // discard an existing state instead of resuming it
  bool retry_failed = false;      // forget the failures an earlier run recorded, so they run again
  RetryPolicy retry;
  Shard shard;                    // only this part of the input (--shard I/N)
};

// Results committed to the state (durable), as a client may be told them.
struct JobCounts {
  int64_t total = 0;   // lines in the input, valid and invalid
  int64_t ok = 0;
  int64_t failed = 0;
};

// What an engine answer did, for the runner's in-flight limit.
struct AnswerEffect {
  bool out_of_memory = false;  // the engine could not hold the request: send fewer at once
  bool succeeded = false;
};

class Job {
 public:
  // Scans the input, opens (or creates) the state and works out what is left. Refuses a state that
  // belongs to another input unless `restart`.
  static Expected<std::unique_ptr<Job>> open(JobOptions options);
  // The same with the input scanned already (scan_batch_input of options.input): a front door that
  // checked the file when it came (serve's upload) does not read it again.
  static Expected<std::unique_ptr<Job>> open(JobOptions options, BatchInput scanned);
  ~Job();

  const JobOptions& options() const { return options_; }
  const JobMeta& meta() const { return meta_; }
  int64_t resumed() const { return resumed_; }            // results already in the state when opened
  int64_t retried_failures() const { return forgotten_; } // failures forgotten by retry_failed

  // The next request to send now (key = its line number): due retries first, then new lines. A line
  // that cannot be read again becomes its error result at once. nullopt: nothing to send now.
  std::optional<EngineRequest> next_request();
  // The line of a request next_request() gave that the engine would not take: it goes first next time.
  void give_back(int64_t line);

  // The engine's answer for one of this job's lines. While `stopping`, a failure that could pass on
  // another attempt is not recorded: the line stays pending and a resume sends it again.
  AnswerEffect on_answer(EngineResult answer, bool stopping);

  // Nothing more is sent (serve's cancel); answers still in flight are still recorded. Any thread.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // The job stops for good with this reason: nothing more is sent, and answers still in flight are not
  // acknowledged (a resume runs their lines again). The first reason stays. Any thread.
  void fail(Error reason);
  // Why the job stopped for good: its state could not be written (disk full: the policy for every front
  // door, `run` and `serve` alike), or its runner's thread failed. nullopt while it is sound. Any thread.
  std::optional<Error> failure() const;

  // Seconds until the next retry is due (0: something can be sent now; infinity: nothing waits).
  double next_send_in_s() const;
  size_t in_flight() const { return in_flight_; }
  // Nothing to send, nothing waiting for a retry, nothing in flight.
  bool idle() const;
  // Lines neither recorded nor in flight nor waiting (a stopped or cancelled job leaves these).
  int64_t unsent() const { return static_cast<int64_t>(ready_.size() + retries_.size()); }

  JobCounts counts() const;
  int64_t completion_tokens() const { return completion_tokens_; }  // of answers recorded by this process
  // Failures in the state: those recorded before this process opened it (the input's invalid lines among
  // them) and those since. One count for the progress line, the summary and the hint.
  int64_t failed() const { return failed_before_ + failed_; }
  // True when this open created the state (a first run or --restart): nothing was resumed.
  bool created() const { return created_; }
  std::vector<double>& inter_token_ms() { return inter_token_ms_; }

  // Called with every result as it is recorded (on the runner's thread): serve's metrics.
  void set_observer(std::function<void(const ResultRecord&)> observer) { observer_ = std::move(observer); }

  JobStore& store() { return *store_; }
  // Waits until every recorded result is durable.
  Status flush() { return store_->flush(); }
  // The report from the state's committed results (wall time and engine figures are the caller's).
  Expected<RunReport> report();
  // Writes the output and error files from the committed results (atomically), to the given paths.
  // With `unfinished` (serve's cancelled or expired batch), each valid input line that has no result is
  // written to the error file as that error ({code, message}), so that every input line is accounted
  // for exactly once. Returns how many lines each file got.
  Expected<WrittenFiles> write_files(const std::filesystem::path& output, const std::filesystem::path& errors,
                                     const std::optional<Error>& unfinished = std::nullopt,
                                     const std::string& unfinished_code = "");

 private:
  struct Retry {
    double due_s;
    int64_t line;
    bool operator>(const Retry& o) const { return due_s > o.due_s; }
  };
  Job() = default;
  void record(const InputLine& line, EngineResult& answer);
  int attempts(const InputLine& line) const { return attempts_[static_cast<size_t>(&line - input_.requests.data())]; }
  uint16_t& attempts(const InputLine& line) { return attempts_[static_cast<size_t>(&line - input_.requests.data())]; }

  JobOptions options_;
  BatchInput input_;
  JobMeta meta_;
  std::unique_ptr<JobStore> store_;
  std::optional<BatchReader> reader_;
  // The input's requests are in line order: a line is found by binary search, and its attempts are kept
  // by its index (a million-line input costs 2 bytes a line here, not two hash-map nodes).
  size_t index_of(int64_t line) const;
  std::deque<int64_t> ready_;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<>> retries_;
  std::vector<uint16_t> attempts_;  // per request, by index
  std::mt19937_64 rng_{42};
  size_t in_flight_ = 0;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex failure_mu_;
  std::optional<Error> failure_;  // guarded by failure_mu_
  int64_t resumed_ = 0;
  bool created_ = false;
  int64_t failed_before_ = 0;
  int64_t forgotten_ = 0;
  int64_t failed_ = 0;
  int64_t completion_tokens_ = 0;
  std::vector<double> inter_token_ms_;  // streamed answers recorded by this process
  std::function<void(const ResultRecord&)> observer_;
};

// What every record of an answer keeps, whatever it is for (a batch line, an interactive request's
// metrics): whether it succeeded, its token counts and timings, when it finished.
ResultRecord answer_figures(const EngineResult& answer);

// OUT.jsonl -> OUT.state.db
std::filesystem::path default_state_path(const std::filesystem::path& output);

}  // namespace batchwise
