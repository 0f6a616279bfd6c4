#include "tune/tuner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "core/clock.h"
#include "core/files.h"
#include "core/log.h"
#include "core/units.h"
#include "hardware/hardware_key.h"
#include "plan/measured_calibration.h"
#include "plan/plan.h"
#include "tune/knob_search.h"
#include "tune/trial_runners.h"
#include "tune/workload_sketch.h"

namespace batchwise {
namespace {

Expected<std::string> this_hardware() {
  BW_ASSIGN_OR_RETURN(Hardware hw, select_hardware(std::nullopt, 1));
  return hardware_key(hw);
}

// What plan predicts for K parallel sequences of the workload on this hardware, uncalibrated.
class PlanPredictor {
 public:
  static std::optional<PlanPredictor> make(const std::filesystem::path& model, const WorkloadSketch& w) {
    PlanRequest req;
    req.model = model.string();
    req.workload = WorkloadShape{"measured", std::max<int64_t>(1, w.prompt_tokens), w.shared_prefix_tokens,
                                 std::max<int64_t>(1, w.output_tokens)};
    auto plan = make_plan(req);
    if (!plan) {
      log_warn("plan cannot predict this model (" + plan.error().message + "): trials are shown without predictions");
      return std::nullopt;
    }
    return PlanPredictor(std::move(*plan));
  }
  int64_t recommended() const { return plan_.recommendation.recommended.batch; }
  int64_t device_memory() const { return plan_.input.device.memory_bytes; }
  int64_t memory_bytes(int64_t k) const {
    const auto m = estimate_memory(plan_.input.spec, plan_.input.weights, context_for_batch(plan_.input, k),
                                   plan_.input.device.is_gpu());
    return m.device.total_bytes() + (m.on_gpu ? 0 : m.host.total_bytes());
  }
  double requests_per_s(int64_t k) const {
    const PerfModel perf(plan_.input.spec, plan_.input.weights, plan_.input.device, context_for_batch(plan_.input, k),
                         plan_.input.calibration);
    return perf.at_batch(k, plan_.input.workload).requests_per_s;
  }

 private:
  explicit PlanPredictor(Plan p) : plan_(std::move(p)) {}
  Plan plan_;
};

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

// KV cells (--ctx) for K requests over `lanes`: each lane holds the shared prefix once and every
// sequence its own part, with room for the chat template and the 4-bytes-a-token estimate's error.
int64_t trial_ctx_tokens(const WorkloadSketch& w, int64_t k, int lanes) {
  const int64_t per_lane = (k + lanes - 1) / lanes;
  const double cells =
      1.5 * static_cast<double>(w.shared_prefix_tokens + per_lane * (w.prompt_tokens - w.shared_prefix_tokens + w.output_tokens + 64)) +
      512;
  return lanes * ((static_cast<int64_t>(cells) + 255) / 256 * 256);
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
  s.cache_path = cached->path;
  return s;
}

Expected<TuneResult> tune(const TuneOptions& o) {
  const double started = now_s();
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

  std::optional<PlanPredictor> predictor;
  if (o.kind == TuneKind::kEmbedded) predictor = PlanPredictor::make(o.model, *sketch);
  BW_ASSIGN_OR_RETURN(Hardware hw, select_hardware(std::nullopt, 1));
  const bool on_gpu = !hw.gpus.empty();
  const int max_lanes = o.kind != TuneKind::kEmbedded ? 1 : o.max_lanes > 0 ? o.max_lanes : (on_gpu ? 2 : 1);
  // Parallel is searched at the lanes `run` uses by default (2 on a GPU), then other lanes counts are tried
  // at the chosen parallel. Searching at 1 lane on a GPU measured the wrong curve: one context holds at most
  // 252 sequences, and on an H200 2 lanes of 80 beat 1 lane of 160 by 25% (bench/results/README.md).
  const int base_lanes = std::min(max_lanes, on_gpu ? 2 : 1);
  constexpr int64_t kSequencesPerLane = 252;  // llama.cpp's 256 sequence ids less run's 4 prefix slots
  const int64_t max_knob = o.max_knob > 0 ? o.max_knob
                           : o.kind == TuneKind::kEmbedded ? kSequencesPerLane * base_lanes
                           : o.kind == TuneKind::kEndpoint ? 256
                                                           : 4096;
  int64_t start = o.start > 0 ? o.start : (predictor ? predictor->recommended() : 1);
  start = std::clamp<int64_t>(start, o.min_knob, max_knob);
  r.memory_limit_bytes = o.memory_limit_bytes;
  if (!r.memory_limit_bytes && o.kind != TuneKind::kEndpoint) r.memory_limit_bytes = hw.primary().memory_bytes;
  // The user's limit, not the default: available RAM changes from one call to the next.
  const nlohmann::json settings = settings_json(o, max_knob, start, max_lanes, o.memory_limit_bytes);

  if (!o.refresh && read_cached(r, settings)) {
    r.choice = choose(r.trials, o.slo);  // an SLO applies to the cached trials: nothing is measured again
    r.answer_s = now_s() - started;
    return r;
  }

  // The trial for one knob value, with plan's prediction beside it.
  std::optional<RunTrials> runs;
  if (o.kind != TuneKind::kCommand) {
    BW_ASSIGN_OR_RETURN(runs, RunTrials::open(run_trial_options(o, r.memory_limit_bytes)));
  }
  int serial = 0;
  auto measure_at = [&](int64_t k, int lanes) {
    Trial t;
    if (o.kind == TuneKind::kCommand) {
      t = run_command_trial(CommandTrialOptions{o.command, r.memory_limit_bytes, o.trial_timeout_s}, k);
    } else {
      const auto ctx = o.kind == TuneKind::kEmbedded ? std::optional<int64_t>(trial_ctx_tokens(*sketch, k, lanes)) : std::nullopt;
      t = runs->run(k, lanes, ctx);
    }
    if (predictor) {
      t.predicted_items_per_s = predictor->requests_per_s(k);
      t.predicted_memory_bytes = predictor->memory_bytes(k);
    }
    log_trial(t, ++serial, knob);
    return t;
  };
  const MeasureFn measure = [&](int64_t k) { return measure_at(k, static_cast<int>(std::min<int64_t>(base_lanes, k))); };

  SearchResult s;
  if (o.exhaustive) {
    s = sweep(o.min_knob, max_knob, measure);
  } else {
    SearchOptions so;
    so.start = start;
    so.min_knob = o.min_knob;
    so.max_knob = max_knob;
    so.min_gain = o.min_gain;
    so.memory_limit_bytes = r.memory_limit_bytes;
    so.max_trials = o.max_trials;
    if (predictor) so.prior_bytes_per_unit = static_cast<double>(predictor->memory_bytes(65) - predictor->memory_bytes(1)) / 64.0;
    s = search_knob(so, measure);
  }
  r.trials = std::move(s.trials);
  r.trials_run = s.trials_run;
  // Lanes at the chosen parallel count: one fewer context (1, where the search ran at 2), then more
  // contexts while each doubling pays.
  if (s.best && max_lanes > 1) {
    const Trial best = r.trials[*s.best];
    auto try_lanes = [&](int lanes) {
      Trial t = measure_at(best.knob, lanes);
      ++r.trials_run;
      r.trials.push_back(t);
      return t;
    };
    if (best.lanes > 1 && best.knob <= kSequencesPerLane) try_lanes(1);  // else one context cannot hold them
    double best_rate = best.items_per_s;
    for (int lanes = best.lanes * 2; lanes <= max_lanes && best.knob >= 2 * lanes; lanes *= 2) {
      const Trial t = try_lanes(lanes);
      if (!t.feasible() || t.items_per_s <= best_rate * (1.0 + o.min_gain)) break;
      best_rate = t.items_per_s;
    }
    fill_speedups(r.trials);
  }
  r.choice = choose(r.trials, o.slo);
  r.wall_s = now_s() - started;

  int calibrated_trials = 0;
  r.speed_factor = median_speed_factor(r.trials, calibrated_trials);
  if (r.speed_factor) {
    MeasuredCalibration c{r.key.hardware, *r.speed_factor, calibrated_trials,
                          o.model.filename().string() + ", workload " + r.key.workload};
    if (auto st = save_measured_calibration(c); !st) log_warn("could not store plan's calibration: " + st.error().message);
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
