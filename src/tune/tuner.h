// tune: the measured answer to "which batch / concurrency should this job run at?". One front door
// for three kinds of work, all searched with search_knob (knob_search.h), each trial in a child:
//   embedded  `batchwise run --parallel K` on a GGUF, then the best --lanes count at the chosen K;
//             every trial printed beside plan's prediction (memory, requests/s), and the median
//             measured/predicted ratio stored as plan's calibration for this hardware;
//   endpoint  `batchwise run --endpoint URL --max-concurrency K` (goodput under the SLO);
//   command   any batch program speaking the {"items","seconds"} protocol (docs/tune.md).
// A result is cached per (kind, hardware, model, engine build, workload shape) and an identical call
// answers from the cache without running anything. Progress lines go to stderr through the log.
// Single-threaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "tune/choice.h"
#include "tune/trial.h"
#include "tune/tune_cache.h"

namespace batchwise {

enum class TuneKind { kEmbedded, kEndpoint, kCommand };

struct TuneOptions {
  TuneKind kind = TuneKind::kEmbedded;
  std::filesystem::path self_exe;        // this binary, for the run trials
  std::filesystem::path model;           // embedded: the GGUF
  std::filesystem::path workload;        // embedded/endpoint: batch JSONL
  std::string workload_name;             // for titles: "seed", or the file name
  std::vector<std::string> endpoints;    // endpoint
  std::string command;                   // command, with {batch}
  std::vector<std::string> run_args;     // extra flags for every `run` trial (--threads, ...)
  int64_t min_knob = 1;
  int64_t max_knob = 0;                  // 0: 252 parallel per lane (embedded), 256 in flight, 4096 batch
  int64_t start = 0;                     // 0: plan's recommendation (embedded), else 1
  int max_lanes = 0;                     // 0: 8 on a GPU, 1 on a CPU
  LatencySlo slo;
  std::optional<int64_t> memory_limit_bytes;  // unset: the device's memory (a GPU's, else available RAM)
  double min_gain = 0.03;
  int max_trials = 24;
  double trial_waves = 4;
  int64_t min_trial_requests = 8;
  int64_t max_trial_requests = 0;        // 0: default_max_trial_requests(kind, on a GPU)
  double trial_timeout_s = 900;
  bool refresh = false;                  // measure even when the cache has an answer
  bool exhaustive = false;               // measure every knob in [min, max] (benchmarks, tests)
  std::filesystem::path work_dir;        // trial scratch files
};

struct TuneResult {
  TuneKind kind = TuneKind::kEmbedded;
  TuneKey key;
  bool from_cache = false;
  std::filesystem::path cache_path;
  std::vector<Trial> trials;
  int trials_run = 0;
  double wall_s = 0;                     // of the search (the cached search's, on a hit)
  double answer_s = 0;                   // of this call
  Choice choice;
  std::optional<int64_t> memory_limit_bytes;
  std::optional<double> speed_factor;    // embedded: median measured / predicted requests/s
  std::string calibration_note;          // what merging it into plan's calibration did
  // How far plan was from the trials (embedded): median and largest |predicted - measured| / measured.
  std::optional<double> plan_speed_error_median, plan_speed_error_max;
  std::optional<double> plan_memory_error_median, plan_memory_error_max;
  std::string title;
};

Expected<TuneResult> tune(const TuneOptions& options);

// Requests a trial holds at most when --trial-max-requests is not given: 512, or 4,096 for the embedded engine on
// a GPU, whose settings reach ~2,000 sequences over 8 lanes; a trial must hold 2 waves of its setting to measure
// more than the ramp and the drain (an H100's trials of 1,000 requests ran 1,512 sequences at once).
int64_t default_max_trial_requests(TuneKind kind, bool on_gpu);

// What `run` starts from: the chosen knob and lanes of a cached tune for this key, if any.
struct TunedSetting {
  int64_t knob = 0;
  int lanes = 1;
  std::optional<int64_t> ctx_tokens;  // embedded: the KV cells its trial ran with (--ctx-size)
  double items_per_s = 0;
  std::filesystem::path cache_path;
};
std::optional<TunedSetting> cached_setting(const TuneKey& key);

// The cache key tune and run compute alike.
Expected<TuneKey> embedded_key(const std::filesystem::path& model, const std::filesystem::path& workload);
Expected<TuneKey> endpoint_key(const std::vector<std::string>& endpoints, const std::filesystem::path& workload);
Expected<TuneKey> command_key(const std::string& command);

std::string_view knob_name(TuneKind kind);  // "parallel", "max_concurrency", "batch"
nlohmann::json tune_result_json(const TuneResult& r);
std::string tune_result_text(const TuneResult& r);

}  // namespace batchwise
