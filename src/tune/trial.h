// Trial: one measurement of a workload at one setting of the knob being tuned (parallel sequences for
// the embedded engine, requests in flight for endpoints, the batch size for a batch program), or a
// setting the search skipped because the memory it would need, predicted from the trials before it,
// does not fit. Units are in the names; latencies are per request, milliseconds.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchwise {

struct LatencyPercentiles {
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
};

enum class TrialOutcome {
  kMeasured,         // ran to the end; the figures below are real
  kOutOfMemory,      // ran and could not allocate (exit status, "out of memory", killed by a signal)
  kOverMemoryLimit,  // ran and its memory passed --memory-limit: stopped by the tuner
  kPredictedTooBig,  // not run: the memory predicted from earlier trials (+ margin) would not fit
  kFailed,           // ran and failed in another way (requests failed, bad protocol line)
  kOutlier,          // ran to the end, but its repeat disagreed and it disagreed with its neighbours: not used
  kTooFewRequests,   // not run: a trial of --trial-max-requests holds fewer than 2 waves of the setting
};

std::string_view trial_outcome_name(TrialOutcome outcome);

struct Trial {
  int64_t knob = 0;          // the value tuned: parallel sequences, in-flight requests or batch size
  int lanes = 1;             // embedded engine: llama.cpp contexts (1 elsewhere)
  std::optional<int64_t> ctx_tokens;  // embedded engine: the KV cells (--ctx-size) the trial ran with
  TrialOutcome outcome = TrialOutcome::kMeasured;
  std::string why;           // for every outcome but kMeasured: what happened, for the user
  int64_t items = 0;         // requests (or batch items) finished
  double wall_s = 0;         // the measured window (warm-up excluded)
  double items_per_s = 0;    // requests/s, or items/s for a batch program
  double completion_tokens_per_s = 0;
  double prompt_tokens_per_s = 0;  // prompt tokens submitted per second (cached ones included)
  // As run's report counted them (tokenizer and chat template): submitted, evaluated (a shared prefix
  // once), generated. 0: not known (a --cmd trial, an older cache entry).
  int64_t prompt_tokens = 0;
  int64_t evaluated_prompt_tokens = 0;
  int64_t completion_tokens = 0;
  LatencyPercentiles queue, ttft, total;
  int64_t peak_memory_bytes = 0;   // 0: unknown
  std::string memory_source;       // "gpu process", "gpu device", "rss"
  double others_cpu_cores = -1;    // CPU cores other processes used during the trial (-1: not measured)
  double speedup = 0;              // items_per_s over the knob-1 trial's (0: no such trial)
  double trial_s = 0;              // the trial's whole time, start-up included (what the search cost)
  // What plan predicted for this setting (embedded engine only), to print the error beside it.
  std::optional<double> predicted_items_per_s;
  std::optional<int64_t> predicted_memory_bytes;

  bool feasible() const { return outcome == TrialOutcome::kMeasured; }
  bool ran() const { return outcome != TrialOutcome::kPredictedTooBig && outcome != TrialOutcome::kTooFewRequests; }
};

nlohmann::json trial_to_json(const Trial& t);
// Reads what trial_to_json wrote (the result cache); a field of the wrong type is an error.
Expected<Trial> trial_from_json(const nlohmann::json& j);

}  // namespace batchwise
