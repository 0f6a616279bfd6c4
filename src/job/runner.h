// Runner: takes one batch JSONL file to completion on an Engine. Validates the input, records the
// job in its JobStore, skips what an earlier run finished, dispatches the rest (priority first,
// requests sharing a prompt prefix together), retries what may pass on a second try, and writes
// the output and error files once every result is durable.
//
// Threads: run_batch() runs on the caller's thread; results arrive from the engine's thread
// through a queue; the store commits on its own writer thread.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>

#include "core/status.h"
#include "engine/engine.h"
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
  Shard shard;                    // run only this part of the input (--shard I/N; paths are the caller's)
  RetryPolicy retry;
  double progress_interval_s = 10.0;  // plain progress lines when stderr is not a terminal
  double stop_grace_s = 5.0;          // after Ctrl-C, how long in-flight requests may finish
  // Incremented by the SIGINT handler: 1 = stop taking work, 2 = stop now.
  const std::atomic<int>* interrupts = nullptr;
};

struct RunOutcome {
  RunReport report;
  EngineStats engine;
  int64_t resumed = 0;          // results already in the state when this run started
  bool interrupted = false;
  std::filesystem::path output;
  std::filesystem::path errors;
  std::filesystem::path state;
};

// The engine must not be started yet; run_batch starts it and stops it.
Expected<RunOutcome> run_batch(const RunOptions& options, Engine& engine);

// OUT.jsonl -> OUT.state.db
std::filesystem::path default_state_path(const std::filesystem::path& output);

}  // namespace batchwise
