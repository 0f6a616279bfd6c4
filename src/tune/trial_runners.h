// The trials tune runs, each in a child process (child_process.h):
//   RunTrials      `batchwise run SLICE.jsonl --json --parallel K` on the embedded engine (or
//                  `--endpoint URL --max-concurrency K`), the same runner a job uses, reading its JSON
//                  report. A slice is the workload's first lines (repeated with fresh custom_ids when
//                  the file is shorter) sized to `waves` x K requests so ramp-up and drain are a small
//                  share of it. Warm-up excluded: the model loads before run's clock starts, and the
//                  first trial at each lanes count is preceded by an unmeasured warm-up run that
//                  brings the model file into the page cache.
//   CommandTrials  any batch program: `{batch}` in the command replaced by the knob, run through
//                  /bin/sh, its last stdout line {"items": N, "seconds": S} read (docs/tune.md).
// Both classify the end of a trial: measured, out of memory, over the memory limit, or failed (why).
// Not thread-safe: one trial at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "tune/child_process.h"
#include "tune/trial.h"

namespace batchwise {

struct RunTrialOptions {
  std::filesystem::path self_exe;            // the batchwise binary (/proc/self/exe)
  std::filesystem::path workload;            // batch JSONL
  std::filesystem::path work_dir;            // slices, outputs and state go here
  std::vector<std::string> engine_args;      // -m MODEL, --threads ... given to every trial
  std::vector<std::string> endpoints;        // non-empty: the knob is --max-concurrency against these
  double waves = 4;
  int64_t min_requests = 8;
  int64_t max_requests = 512;
  std::optional<int64_t> memory_limit_bytes;
  double timeout_s = 600;
};

class RunTrials {
 public:
  static Expected<RunTrials> open(RunTrialOptions options);
  // --ctx for the trial: KV cells for K requests of the workload, estimated by the caller.
  Trial run(int64_t knob, int lanes, std::optional<int64_t> ctx_tokens);
  int64_t slice_requests(int64_t knob) const;

 private:
  explicit RunTrials(RunTrialOptions o) : o_(std::move(o)) {}
  Status write_slice(const std::filesystem::path& path, int64_t requests) const;

  RunTrialOptions o_;
  std::vector<std::string> lines_;
  std::vector<int> warmed_lanes_;
  int serial_ = 0;
};

// Reads a `batchwise run --json` report into a trial's figures (outcome left to the caller).
Expected<Trial> trial_from_run_report(const std::string& json_text);

struct CommandTrialOptions {
  std::string command;                       // with {batch}
  std::optional<int64_t> memory_limit_bytes;
  double timeout_s = 600;
};

Trial run_command_trial(const CommandTrialOptions& options, int64_t batch);

// The protocol line: the last stdout line that is a JSON object with numbers `items` and `seconds`.
Expected<std::pair<double, double>> parse_items_seconds(const std::string& stdout_text);

// Outcome and why for a child that did not end well (shared by both kinds of trial).
void classify_child_end(const ChildResult& r, Trial& t);

}  // namespace batchwise
