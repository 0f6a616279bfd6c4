// JobStore: the durable state of one batch job in SQLite (WAL, synchronous=FULL). A result counts
// as done only once its transaction has committed; results are committed in groups (every
// group_ms or group_size results, whichever first) by one writer thread, so durability stays cheap.
// Exactly-once: a result is keyed by its input line, inserted once; what was not committed runs again.
// The on-disk schema is described in docs/formats.md.
//
// Threads: append() and committed() from any thread; the rest from one thread (the runner's). Another
// thread that wants the results (serve's downloads) opens a ResultReader (result_reader.h): a read-only
// connection of its own, never this one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "job/batch_input.h"
#include "job/shard.h"

namespace batchwise {

struct ResultRecord {
  int64_t line = 0;
  std::string custom_id;
  bool ok = false;
  int status_code = 0;
  std::string body;           // response body JSON when ok
  std::string error_code;     // error class when failed ("context_length_exceeded")
  std::string error_message;
  int attempts = 0;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t completion_tokens = 0;
  double queue_ms = 0;
  double ttft_ms = 0;
  double total_ms = 0;
  int64_t finished_at = 0;    // unix seconds
};

struct JobMeta {
  std::string input_path;
  std::string input_hash;
  int64_t requests = 0;       // valid lines
  int64_t invalid_lines = 0;
  int64_t created_at = 0;
  // The part of the input this state runs (`run --shard I/N`); 0/1 when not sharded and in states
  // written before shards existed.
  Shard shard;
  int64_t input_lines = 0;    // non-blank lines of the whole input, every shard's; 0 when unknown
  int64_t run_ms = 0;         // time runs of this job have spent, summed over sessions (0: none recorded)
};

struct StoreOptions {
  int group_ms = 50;
  int group_size = 1024;
  // The SQLite VFS to open the database with; empty: SQLite's default. Only the power-loss test
  // names another (tests/support/power_loss_vfs.h).
  std::string vfs;
  // Results waiting for the writer, at most; append() blocks past it (back-pressure on the runner), so
  // a slow or stuck disk holds the work back instead of piling results up in memory.
  size_t max_pending = 4096;
};

class JobStore {
 public:
  static Expected<std::unique_ptr<JobStore>> open(const std::filesystem::path& path, StoreOptions options = {});
  ~JobStore();

  // The job this state holds, or nullopt for a new state.
  Expected<std::optional<JobMeta>> job();

  // Records a new job: its metadata, and an error result for each invalid line. Any earlier job in
  // this state is deleted first (--restart).
  Status create_job(const JobMeta& meta, const std::vector<LineError>& invalid_lines);

  // Lines that have a committed result.
  Expected<std::unordered_set<int64_t>> finished_lines();

  // Queues a result; the writer thread commits it with the next group. Blocks while max_pending
  // results wait. After a failed commit it takes nothing more and returns that error: the result is
  // not acknowledged, and a resume runs its line again.
  Status append(ResultRecord record);

  // Results committed since open().
  int64_t committed() const;

  // Results in the state (committed), ok and failed, and their completion tokens, counted when opened and kept
  // up to date since.
  struct Stored {
    int64_t ok = 0;
    int64_t failed = 0;
    int64_t completion_tokens = 0;
  };
  Stored stored() const;

  // Deletes the failures a run recorded (not the input's invalid lines, which would fail again), so
  // they run again: `run --retry-failed`. Returns how many.
  Expected<int64_t> forget_failures();

  // Waits until everything appended is committed; returns the writer's error if a commit failed
  // (disk full): then nothing after the last good commit counts as done.
  Status flush();

  // Adds one run's wall time to the job's `run_ms` (after flush(): the writer must be idle), so that
  // `report` of a finished job gives its real speed, not the span since it was created.
  Status add_run_ms(int64_t ms);

  // The writer's error, if any, without waiting.
  std::optional<Error> write_error() const;

  // Every committed result, in line order.
  Status for_each_result(const std::function<void(const ResultRecord&)>& fn);
  // The same without the texts (body, custom_id, error message left empty): what a report counts, read
  // without touching the bodies.
  Status for_each_figures(const std::function<void(const ResultRecord&)>& fn);

  // Up to `limit` committed results after `after_line`, in line order: merge walks several shards'
  // states in step without holding any of them whole.
  Expected<std::vector<ResultRecord>> results_after(int64_t after_line, int64_t limit);

  struct Impl;

 private:
  explicit JobStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace batchwise
