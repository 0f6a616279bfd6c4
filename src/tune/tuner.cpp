#include "tune/tuner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <tuple>

#include "core/clock.h"
#include "core/files.h"
#include "core/log.h"
#include "core/units.h"
#include "hardware/hardware_key.h"
#include "model/model_source.h"
#include "plan/gpu_run_default.h"
#include "plan/measured_calibration.h"
#include "plan/plan.h"
#include "tune/knob_search.h"
#include "tune/layout_search.h"
#include "tune/plan_predictor.h"
#include "tune/trial_noise.h"
#include "tune/trial_runners.h"
#include "tune/workload_sketch.h"

namespace batchwise {
namespace {

Expected<std::string> this_hardware() {
  BW_ASSIGN_OR_RETURN(Hardware hw, select_hardware(std::nullopt, 1));
  return hardware_key(hw);
}

std::string signed_percent(double measured, double predicted) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.0f%%", predicted > 0 ? 100.0 * (measured - predicted) / predicted : 0.0);
  return buf;
}

void log_trial(const Trial& t, int serial, std::string_view knob) {
  char line[512];
  const std::string lanes = knob == "parallel" ? " lanes " + std::to_string(t.lanes) : "";
  if (!t.feasible()) {
    std::snprintf(line, sizeof line, "trial %d: %s %lld%s: %s: %s", serial, std::string(knob).c_str(), (long long)t.knob,
                  lanes.c_str(), std::string(trial_outcome_name(t.outcome)).c_str(), t.why.c_str());
    log_info(line);
    return;
  }
  std::string rate_vs = t.predicted_items_per_s ? " (plan " + std::to_string(*t.predicted_items_per_s).substr(0, 6) + ", error " +
                                                      signed_percent(*t.predicted_items_per_s, t.items_per_s) + ")"
                                                : "";
  std::string mem_vs = t.predicted_memory_bytes && t.peak_memory_bytes > 0
                           ? " (plan " + std::to_string(*t.predicted_memory_bytes >> 20) + " MiB, error " +
                                 signed_percent(static_cast<double>(*t.predicted_memory_bytes), static_cast<double>(t.peak_memory_bytes)) + ")"
                           : "";
  std::snprintf(line, sizeof line, "trial %d: %s %lld%s: %.3g items/s%s, p95 %.0f ms, memory %lld MiB%s [%.1f s]", serial,
                std::string(knob).c_str(), (long long)t.knob, lanes.c_str(), t.items_per_s, rate_vs.c_str(), t.total.p95_ms,
                (long long)(t.peak_memory_bytes >> 20), mem_vs.c_str(), t.trial_s);
  log_info(line);
}

nlohmann::json settings_json(const TuneOptions& o, int64_t max_knob, int64_t start, int max_lanes,
                             std::optional<int64_t> limit) {
  return {{"min_knob", o.min_knob},     {"max_knob", max_knob},
          {"start", start},             {"max_lanes", max_lanes},
          {"memory_limit_bytes", limit ? nlohmann::json(*limit) : nlohmann::json()},
          {"exhaustive", o.exhaustive}, {"trial_waves", o.trial_waves},
          {"min_trial_requests", o.min_trial_requests}, {"max_trial_requests", o.max_trial_requests},
          {"min_gain", o.min_gain}};
}

// Every knob in [min, max]: what the search is measured against.
SearchResult sweep(int64_t lo, int64_t hi, const MeasureFn& measure) {
  SearchResult r;
  for (int64_t k = lo; k <= hi; ++k) {
    r.trials.push_back(measure(k));
    ++r.trials_run;
  }
  fill_speedups(r.trials);
  for (size_t i = 0; i < r.trials.size(); ++i) {
    if (r.trials[i].feasible() && (!r.best || r.trials[i].items_per_s > r.trials[*r.best].items_per_s)) r.best = i;
  }
  return r;
}

constexpr int kDefaultGpuMaxLanes = 8;

// Median and largest |predicted - measured| / measured over the measured trials.
std::pair<std::optional<double>, std::optional<double>> plan_error(const std::vector<Trial>& trials, bool memory) {
  std::vector<double> e;
  for (const auto& t : trials) {
    if (!t.feasible()) continue;
    const double measured = memory ? static_cast<double>(t.peak_memory_bytes) : t.items_per_s;
    const std::optional<double> predicted = memory ? (t.predicted_memory_bytes ? std::optional<double>(static_cast<double>(*t.predicted_memory_bytes)) : std::nullopt)
                                                   : t.predicted_items_per_s;
    if (predicted && measured > 0) e.push_back(std::fabs(*predicted - measured) / measured);
  }
  if (e.empty()) return {};
  std::sort(e.begin(), e.end());
  return {e[e.size() / 2], e.back()};
}  // the most lanes measured on an H200 (bench/results)

std::optional<double> median_speed_factor(const std::vector<Trial>& trials, int& count) {
  std::vector<double> ratios;
  for (const auto& t : trials) {
    if (t.feasible() && t.predicted_items_per_s && *t.predicted_items_per_s > 0 && t.items_per_s > 0) {
      ratios.push_back(t.items_per_s / *t.predicted_items_per_s);
    }
  }
  count = static_cast<int>(ratios.size());
  if (ratios.empty()) return std::nullopt;
  std::sort(ratios.begin(), ratios.end());
  return ratios[ratios.size() / 2];
}

// The cached trials for this key and these settings into `r`; false on a miss (or an unreadable entry).
bool read_cached(TuneResult& r, const nlohmann::json& settings) {
  const auto cached = load_tune(r.key);
  if (!cached || cached->settings != settings) return false;
  const auto& j = cached->result;
  if (!j.contains("trials") || !j["trials"].is_array()) return false;
  std::vector<Trial> trials;
  for (const auto& t : j["trials"]) {
    auto trial = trial_from_json(t);
    if (!trial) return false;
    trials.push_back(*trial);
  }
  r.trials = std::move(trials);
  r.from_cache = true;
  r.cache_path = cached->path;
  r.trials_run = j.value("trials_run", 0);
  r.wall_s = j.value("wall_s", 0.0);
  if (j.contains("speed_factor") && j["speed_factor"].is_number()) r.speed_factor = j["speed_factor"].get<double>();
  return true;
}

RunTrialOptions run_trial_options(const TuneOptions& o, std::optional<int64_t> memory_limit_bytes) {
  RunTrialOptions ro;
  ro.self_exe = o.self_exe;
  ro.workload = o.workload;
  ro.work_dir = o.work_dir;
  ro.engine_args = o.run_args;
  if (o.kind == TuneKind::kEmbedded) ro.engine_args.insert(ro.engine_args.begin(), {"-m", o.model.string()});
  ro.endpoints = o.endpoints;
  ro.waves = o.trial_waves;
  ro.min_requests = o.min_trial_requests;
  ro.max_requests = o.max_trial_requests;
  ro.memory_limit_bytes = memory_limit_bytes;
  ro.timeout_s = o.trial_timeout_s;
  return ro;
}

// KV cells (--ctx) for K requests over `lanes`: each lane holds the shared prefix once and every sequence its own
// part. From the sketch (4 bytes a token) with room for the chat template and the estimate's error, until the first
// trial has counted the tokens; then from the counts with a quarter more for each sequence's own part: run's GPU
// default measured best so (28,672 cells a lane for 252 seed sequences; the same with 32,768 ran 6% slower, the host
// building attention masks over more cells).
int64_t trial_ctx_tokens(const WorkloadShape& w, bool counted, int64_t k, int lanes) {
  const int64_t per_lane = (k + lanes - 1) / lanes;
  const double own = static_cast<double>(w.unique_prompt_tokens() + w.output_tokens);
  const double shared = static_cast<double>(w.shared_prefix_tokens);
  // A lane's room is never under 16 sequences' worth, so a request far longer than the mean still fits a small one.
  const double cells = counted ? shared + static_cast<double>(std::max<int64_t>(per_lane, 16)) * own * 1.25 + 512
                               : 1.5 * (shared + static_cast<double>(per_lane) * (own + 64)) + 512;
  return lanes * ((static_cast<int64_t>(cells) + 255) / 256 * 256);
}

// On a GPU, the layout `run` takes untuned (plan/gpu_run_default.h), for the search to measure beside its own.
std::optional<LayoutSearchOptions::Layout> run_default_layout(const TuneOptions& o, std::optional<int64_t> memory_bytes,
                                                              bool on_gpu) {
  if (o.kind != TuneKind::kEmbedded || !on_gpu || !memory_bytes) return std::nullopt;
  const auto info = load_model_info(o.model.string());
  if (!info || !info->file_weights) return std::nullopt;
  const auto d = gpu_run_default(info->spec, *info->file_weights, ContextConfig{}, *memory_bytes);
  if (!d || (o.max_knob > 0 && d->layout.parallel > o.max_knob)) return std::nullopt;
  return LayoutSearchOptions::Layout{d->layout.parallel, static_cast<int>(d->layout.lanes)};
}

}  // namespace

std::string_view knob_name(TuneKind kind) {
  switch (kind) {
    case TuneKind::kEmbedded: return "parallel";
    case TuneKind::kEndpoint: return "max_concurrency";
    case TuneKind::kCommand: return "batch";
  }
  return "batch";
}

Expected<TuneKey> embedded_key(const std::filesystem::path& model, const std::filesystem::path& workload) {
  TuneKey k;
  k.kind = "embedded";
  BW_ASSIGN_OR_RETURN(k.hardware, this_hardware());
  BW_ASSIGN_OR_RETURN(k.model, model_identity(model));
  k.engine_build = engine_build_id();
  BW_ASSIGN_OR_RETURN(WorkloadSketch w, sketch_workload(workload));
  k.workload = w.bucket();
  return k;
}

Expected<TuneKey> endpoint_key(const std::vector<std::string>& endpoints, const std::filesystem::path& workload) {
  TuneKey k;
  k.kind = "endpoint";
  std::vector<std::string> sorted = endpoints;
  std::sort(sorted.begin(), sorted.end());
  for (const auto& e : sorted) k.hardware += (k.hardware.empty() ? "" : " ") + e;
  k.engine_build = "batchwise " + std::string(batchwise_version());
  BW_ASSIGN_OR_RETURN(WorkloadSketch w, sketch_workload(workload));
  k.workload = w.bucket();
  return k;
}

Expected<TuneKey> command_key(const std::string& command) {
  TuneKey k;
  k.kind = "command";
  BW_ASSIGN_OR_RETURN(k.hardware, this_hardware());
  k.engine_build = command;
  return k;
}

std::optional<TunedSetting> cached_setting(const TuneKey& key) {
  const auto cached = load_tune(key);
  if (!cached || !cached->result.contains("chosen") || !cached->result["chosen"].is_object()) return std::nullopt;
  const auto& c = cached->result["chosen"];
  if (!c.contains("knob") || !c["knob"].is_number_integer()) return std::nullopt;
  TunedSetting s;
  s.knob = c["knob"].get<int64_t>();
  s.lanes = c.contains("lanes") && c["lanes"].is_number_integer() ? c["lanes"].get<int>() : 1;
  s.items_per_s = c.contains("items_per_s") && c["items_per_s"].is_number() ? c["items_per_s"].get<double>() : 0.0;
  if (c.contains("ctx_tokens") && c["ctx_tokens"].is_number_integer()) s.ctx_tokens = c["ctx_tokens"].get<int64_t>();
  s.cache_path = cached->path;
  return s;
}

int64_t default_max_trial_requests(TuneKind kind, bool on_gpu) {
  return kind == TuneKind::kEmbedded && on_gpu ? 4096 : 512;
}

Expected<TuneResult> tune(const TuneOptions& options) {
  const double started = now_s();
  TuneOptions o = options;
  TuneResult r;
  r.kind = o.kind;
  const std::string knob(knob_name(o.kind));

  std::optional<WorkloadSketch> sketch;
  if (o.kind != TuneKind::kCommand) {
    BW_ASSIGN_OR_RETURN(sketch, sketch_workload(o.workload));
  }
  BW_ASSIGN_OR_RETURN(r.key, o.kind == TuneKind::kEmbedded   ? embedded_key(o.model, o.workload)
                             : o.kind == TuneKind::kEndpoint ? endpoint_key(o.endpoints, o.workload)
                                                             : command_key(o.command));
  r.title = o.kind == TuneKind::kEmbedded   ? "batchwise tune: " + o.model.filename().string() + ", " + o.workload_name
            : o.kind == TuneKind::kEndpoint ? "batchwise tune --endpoint: " + r.key.hardware + ", " + o.workload_name
                                            : "batchwise tune --cmd: " + o.command;

  BW_ASSIGN_OR_RETURN(Hardware hw, select_hardware(std::nullopt, 1));
  const bool on_gpu = !hw.gpus.empty();
  const int max_lanes = o.kind != TuneKind::kEmbedded ? 1 : o.max_lanes > 0 ? o.max_lanes : (on_gpu ? kDefaultGpuMaxLanes : 1);
  // The total is searched at 2 lanes on a GPU (what run gives up to 256 sequences), then more lanes of the best
  // sequences per lane (layout_search.h): on an H200 the optimum lay along "more lanes of ~128".
  const int base_lanes = std::min(max_lanes, on_gpu ? 2 : 1);
  if (o.max_trial_requests <= 0) o.max_trial_requests = default_max_trial_requests(o.kind, on_gpu);
  int64_t max_knob = o.max_knob > 0 ? o.max_knob
                     : o.kind == TuneKind::kEmbedded ? kRunSequencesPerLane * base_lanes
                     : o.kind == TuneKind::kEndpoint ? 256
                                                     : 4096;
  // A trial of fewer than 2 waves of its setting measures the ramp and the drain, not the setting: settings above
  // half the trial's requests are not run (a batch program's trial is one batch: no waves).
  const int64_t max_total = o.kind == TuneKind::kCommand ? 0 : std::max<int64_t>(1, o.max_trial_requests / 2);
  if (max_total > 0 && max_knob > max_total) {
    log_info("settings above " + std::to_string(max_total) + " are not tried: a trial holds at most " +
             std::to_string(o.max_trial_requests) + " requests, 2 waves of " + std::to_string(max_total) +
             " (--trial-max-requests)");
    max_knob = max_total;
  }
  r.memory_limit_bytes = o.memory_limit_bytes;
  if (!r.memory_limit_bytes && o.kind != TuneKind::kEndpoint) r.memory_limit_bytes = hw.primary().memory_bytes;
  // The user's start, not plan's: the settings are the cache key, and plan's depends on the first trial.
  const nlohmann::json settings = settings_json(o, max_knob, o.start, max_lanes, o.memory_limit_bytes);

  if (!o.refresh && read_cached(r, settings)) {
    r.choice = choose(r.trials, o.slo);  // an SLO applies to the cached trials: nothing is measured again
    r.answer_s = now_s() - started;
    return r;
  }

  // Made after the cache is consulted: an answer from the cache needs no plan (a plan takes a while).
  std::optional<PlanPredictor> predictor;
  // The workload the trials' cells are sized for: the sketch's, then the first trial's counts.
  WorkloadShape shape;
  bool counted = false;
  if (sketch) shape = {"sketch", sketch->prompt_tokens, sketch->shared_prefix_tokens, sketch->output_tokens};
  if (o.kind == TuneKind::kEmbedded) predictor = PlanPredictor::make(o.model, shape, o.run_args);
  // The trial for one setting, with plan's prediction at the trial's own settings beside it.
  std::optional<RunTrials> runs;
  if (o.kind != TuneKind::kCommand) {
    BW_ASSIGN_OR_RETURN(runs, RunTrials::open(run_trial_options(o, r.memory_limit_bytes)));
  }
  int serial = 0;
  auto run_one = [&](int64_t k, int lanes) {
    Trial t;
    std::optional<int64_t> ctx;
    if (o.kind == TuneKind::kCommand) {
      t = run_command_trial(CommandTrialOptions{o.command, r.memory_limit_bytes, o.trial_timeout_s}, k);
    } else {
      if (o.kind == TuneKind::kEmbedded) ctx = trial_ctx_tokens(shape, counted, k, lanes);
      t = runs->run(k, lanes, ctx);
      t.ctx_tokens = ctx;
    }
    if (predictor) {
      t.predicted_items_per_s = predictor->requests_per_s(k, lanes, ctx);
      t.predicted_memory_bytes = predictor->memory_bytes(k, lanes, ctx);
    }
    return t;
  };
  std::map<std::pair<int64_t, int>, Trial> measured;  // every trial run, for repeats and the first one's reuse
  auto measure_at = [&](int64_t k, int lanes) {
    if (auto it = measured.find({k, lanes}); it != measured.end()) return it->second;
    Trial t = run_one(k, lanes);
    log_trial(t, ++serial, knob);
    measured[{k, lanes}] = t;
    return t;
  };
  // The baseline first: its report counts the workload's tokens with the model's tokenizer and chat
  // template, which plan's predictions and start then use instead of the sketch's 4 bytes a token.
  if (predictor && !o.exhaustive) {
    const Trial first = measure_at(1, 1);
    if (const auto w = workload_from_trial(first)) {
      shape = *w;
      counted = true;
      if (auto better = PlanPredictor::make(o.model, *w, o.run_args)) {
        log_info("workload as the tokenizer counts it: " + std::to_string(w->prompt_tokens) + " prompt tokens (" +
                 std::to_string(w->shared_prefix_tokens) + " shared) + " + std::to_string(w->output_tokens) +
                 " output a request; the sketch estimated " + std::to_string(sketch->prompt_tokens) + " (" +
                 std::to_string(sketch->shared_prefix_tokens) + " shared)");
        predictor = std::move(better);
        Trial& t = measured[{1, 1}];
        const auto ctx = trial_ctx_tokens(shape, counted, 1, 1);
        t.predicted_items_per_s = predictor->requests_per_s(1, 1, ctx);
        t.predicted_memory_bytes = predictor->memory_bytes(1, 1, ctx);
      }
    }
  }
  int64_t start = o.start > 0 ? o.start : (predictor ? predictor->recommended() : 1);
  start = std::clamp<int64_t>(start, o.min_knob, max_knob);

  SearchResult s;
  if (o.exhaustive) {
    s = sweep(o.min_knob, max_knob, [&](int64_t k) { return measure_at(k, static_cast<int>(std::min<int64_t>(base_lanes, k))); });
  } else {
    LayoutSearchOptions so;
    so.total.start = start;
    so.total.min_knob = o.min_knob;
    so.total.max_knob = max_knob;
    so.total.min_gain = o.min_gain;
    so.total.memory_limit_bytes = r.memory_limit_bytes;
    so.total.max_trials = o.max_trials;
    so.base_lanes = base_lanes;
    so.max_lanes = max_lanes;
    so.max_per_lane = kRunSequencesPerLane;
    so.max_total = max_total;
    so.anchor = run_default_layout(o, r.memory_limit_bytes, on_gpu);
    if (predictor) {
      so.total.prior_bytes_per_unit = static_cast<double>(predictor->memory_bytes(65, 1, std::nullopt) -
                                                          predictor->memory_bytes(1, 1, std::nullopt)) / 64.0;
      so.prior_bytes_per_lane = predictor->bytes_per_lane(std::max<int64_t>(1, start / base_lanes));
    }
    s = search_layout(so, measure_at);
  }
  r.trials = std::move(s.trials);
  r.trials_run = static_cast<int>(measured.size());
  repeat_doubtful_trials(r.trials, [&](const Trial& t) {
    Trial again = run_one(t.knob, t.lanes);
    log_trial(again, ++serial, knob);
    ++r.trials_run;
    return again;
  });
  fill_speedups(r.trials);
  r.choice = choose(r.trials, o.slo);
  r.wall_s = now_s() - started;

  std::tie(r.plan_speed_error_median, r.plan_speed_error_max) = plan_error(r.trials, false);
  std::tie(r.plan_memory_error_median, r.plan_memory_error_max) = plan_error(r.trials, true);
  int calibrated_trials = 0;
  r.speed_factor = median_speed_factor(r.trials, calibrated_trials);
  // Plan models generation: its predictions still start the search, but an embeddings workload's trials say
  // nothing of how far off they are for the generation it is calibrated for.
  if (r.speed_factor && sketch && sketch->embeddings) {
    log_info("an embeddings workload: plan's calibration is left as it was (plan models generation)");
  } else if (r.speed_factor) {
    const CalibrationSample sample{*r.speed_factor, calibrated_trials, o.model.filename().string() + ", workload " + r.key.workload};
    const CalibrationMerge merged = merge_calibration(load_measured_calibration(r.key.hardware), r.key.hardware, sample);
    (merged.outlier ? log_warn : log_info)(merged.note);
    r.calibration_note = merged.note;
    if (auto st = save_measured_calibration(merged.merged); !st) log_warn("could not store plan's calibration: " + st.error().message);
  }
  // Only an answer is cached: a search where nothing ran (a wrong flag, a missing server) is not one.
  auto stored = r.choice.fastest ? store_tune(r.key, settings, tune_result_json(r))
                                 : Expected<std::filesystem::path>(std::unexpected(Error{ErrorCode::kUnavailable, "no trial ran to the end"}));
  if (stored) {
    r.cache_path = *stored;
  } else {
    log_warn("could not cache the result: " + stored.error().message);
  }
  r.answer_s = now_s() - started;
  return r;
}

}  // namespace batchwise
