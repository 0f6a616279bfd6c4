// run_batch: the `run` front door. Takes one batch JSONL file to completion on an Engine through a Job
// and a JobRunner: progress on stderr, Ctrl-C (finish what is in flight, then stop; twice: stop now),
// GPU and memory sampling, and the output and error files once every result is durable. An interrupted
// run writes what it has as OUT.partial.jsonl (and OUT.errors.partial.jsonl) so it can be looked at;
// the run that completes the job removes them.
//
// Threads: run_batch() runs on the caller's thread; results arrive from the engine's threads through
// the runner's queue; the store commits on its own writer thread.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>

#include "core/status.h"
#include "engine/engine.h"
#include "job/job.h"
#include "job/report.h"
#include "job/retry_policy.h"
#include "job/shard.h"

namespace batchwise {

struct RunOptions {
  std::filesystem::path input;
  std::filesystem::path output;
  std::filesystem::path errors;   // empty: OUT.errors.jsonl
  std::filesystem::path state;    // empty: OUT.state.db
  bool restart = false;           // discard an existing state instead of resuming it
  bool retry_failed = false;      // run again the lines an earlier run recorded as failed
  Shard shard;                    // run only this part of the input (--shard I/N; paths are the caller's)
  RetryPolicy retry;
  double progress_interval_s = 10.0;  // plain progress lines when stderr is not a terminal
  double stop_grace_s = 5.0;          // after Ctrl-C, how long in-flight requests may finish
  double stall_warning_s = 120.0;     // warn when nothing finished for this long with work in flight
  // Incremented by the SIGINT handler: 1 = stop taking work, 2 = stop now.
  const std::atomic<int>* interrupts = nullptr;
};

struct RunOutcome {
  RunReport report;
  EngineStats engine;
  int64_t resumed = 0;            // results already in the state when this run started
  int64_t retried_failures = 0;   // failures forgotten by --retry-failed, run again
  bool interrupted = false;
  // Set when the engine could not go on (every endpoint stalled): the run stopped, the rest is pending.
  std::optional<Error> engine_failure;
  std::filesystem::path output;
  std::filesystem::path errors;
  std::filesystem::path state;
  std::filesystem::path partial_output;  // set when an interrupted run wrote what it had
  std::filesystem::path partial_errors;
};

// Makes the engine (loads the model, probes the servers) once the job is known to have work: a finished
// job, an empty input or a state that belongs to another input is answered before a model loads for
// minutes. The engine stays the caller's; it must not be started yet: run_batch starts and stops it.
using EngineFactory = std::function<Expected<Engine*>()>;
Expected<RunOutcome> run_batch(const RunOptions& options, const EngineFactory& make_engine);
// The same with an engine made already.
Expected<RunOutcome> run_batch(const RunOptions& options, Engine& engine);

// OUT.jsonl -> OUT.partial.jsonl: results so far, written when a run stops before it is done.
std::filesystem::path partial_path(const std::filesystem::path& path);

}  // namespace batchwise
