// RunReport: what a job did, from its state (and, right after a run, the engine's counters):
// requests ok/failed by class, tokens (prompt, cached, evaluated, completion), prefill saved vs.
// naive, throughput, latency percentiles and memory. JSON for machines, a summary for people.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "job/job_store.h"

namespace batchwise {

struct LatencySummary {
  double p50_ms = 0;
  double p90_ms = 0;
  double p95_ms = 0;  // what tune's SLOs are written in
  double p99_ms = 0;
};

// RSS growth per 1,000 requests above which the report warns of a leak: a run keeps no per-request
// state once a result is committed, so steady growth past this is a bug worth a look.
inline constexpr double kLeakWarningBytesPer1000 = 8.0 * 1048576.0;

struct ResourceSummary {
  int64_t peak_rss_bytes = 0;
  double rss_growth_bytes_per_1000 = 0;  // slope of RSS over requests finished this run
  bool rss_leak_suspected = false;       // the slope is over kLeakWarningBytesPer1000
  std::optional<int64_t> peak_gpu_memory_bytes;          // the devices' memory in use, every process's
  std::optional<int64_t> peak_gpu_process_memory_bytes;  // this process's own, where NVML lists it
  std::optional<double> mean_gpu_utilization;  // percent, mean of the samples
};

struct RunReport {
  int64_t requests = 0;  // lines in the input (valid and invalid)
  int64_t ok = 0;
  int64_t failed = 0;
  int64_t pending = 0;   // not finished yet (an interrupted job)
  std::map<std::string, int64_t> failed_by_class;
  // Failed lines that are not requests at all (not JSON, no body...): recorded when the job was created, never
  // sent; only an edit of the input fixes them, so --retry-failed leaves them.
  int64_t failed_input_lines = 0;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t evaluated_prompt_tokens = 0;  // from the engine when known, else prompt - cached
  int64_t completion_tokens = 0;
  double wall_s = 0;     // this run's wall time (0 when reported from the state alone)
  double requests_per_s = 0;
  double tokens_per_s = 0;  // completion tokens per second
  LatencySummary queue, ttft, total;
  // Mean gap between streamed chunks per request, for requests finished in this run (HTTP --stream).
  std::optional<LatencySummary> inter_token;
  ResourceSummary resources;
};

// Counts and latencies from the committed results; wall time and engine counters are added by the caller.
Expected<RunReport> build_report(JobStore& store, const JobMeta& meta);
// The same over several states (the shards of one job) whose input has `requests` lines in all.
Expected<RunReport> build_report(const std::vector<JobStore*>& stores, int64_t requests);

nlohmann::json report_json(const RunReport& r);
std::string report_text(const RunReport& r);
// What fixes the failures, by kind, and how many `--retry-failed` runs again (empty when none failed): the
// numbers are the report's, so the hint and the summary agree.
std::vector<std::string> retry_advice(const RunReport& r);

// p50/p90/p95/p99 of `values_ms` (sorted in place).
LatencySummary latency_percentiles(std::vector<double>& values_ms);

// Peak resident memory of this process (VmHWM), bytes; 0 when unknown.
int64_t peak_rss_bytes();
int64_t current_rss_bytes();

}  // namespace batchwise
