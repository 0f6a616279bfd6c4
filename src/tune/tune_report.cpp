// tune's result written out: JSON for programs (and the cache), a table for people.
#include <algorithm>
#include <cstdio>

#include "tune/tuner.h"

namespace batchwise {
namespace {

std::string run_flags(TuneKind kind, const Trial& t) {
  switch (kind) {
    case TuneKind::kEmbedded:
      return "--parallel " + std::to_string(t.knob) + " --lanes " + std::to_string(t.lanes) +
             (t.ctx_tokens ? " --ctx-size " + std::to_string(*t.ctx_tokens) : "");
    case TuneKind::kEndpoint: return "--max-concurrency " + std::to_string(t.knob);
    case TuneKind::kCommand: return "batch " + std::to_string(t.knob);
  }
  return "";
}

nlohmann::json pick_json(const TuneResult& r, const std::optional<size_t>& i) {
  if (!i) return nullptr;
  const Trial& t = r.trials[*i];
  return {{"knob", t.knob},
          {"lanes", t.lanes},
          {"items_per_s", t.items_per_s},
          {"speedup", t.speedup},
          {"p95_ms", t.total.p95_ms},
          {"ttft_p95_ms", t.ttft.p95_ms},
          {"peak_memory_bytes", t.peak_memory_bytes},
          {"ctx_tokens", t.ctx_tokens ? nlohmann::json(*t.ctx_tokens) : nlohmann::json(nullptr)},
          {"flags", run_flags(r.kind, t)}};
}

}  // namespace

nlohmann::json tune_result_json(const TuneResult& r) {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& t : r.trials) trials.push_back(trial_to_json(t));
  nlohmann::json pareto = nlohmann::json::array();
  for (size_t i : r.choice.pareto) pareto.push_back(pick_json(r, i));
  int skipped = 0;
  for (const auto& t : r.trials) skipped += t.ran() ? 0 : 1;
  nlohmann::json j = {{"key", r.key.to_json()},
                      {"knob", knob_name(r.kind)},
                      {"from_cache", r.from_cache},
                      {"cache_file", r.cache_path.string()},
                      {"trials", trials},
                      {"trials_run", r.trials_run},
                      {"trials_skipped", skipped},
                      {"wall_s", r.wall_s},
                      {"answer_s", r.answer_s},
                      {"chosen", pick_json(r, r.choice.chosen)},
                      {"fastest", pick_json(r, r.choice.fastest)},
                      {"knee", pick_json(r, r.choice.knee)},
                      {"pareto", pareto},
                      {"reason", r.choice.reason},
                      {"memory_limit_bytes", r.memory_limit_bytes ? nlohmann::json(*r.memory_limit_bytes) : nlohmann::json()}};
  if (r.speed_factor) j["speed_factor"] = *r.speed_factor;
  if (!r.calibration_note.empty()) j["calibration_note"] = r.calibration_note;
  if (r.plan_speed_error_median) {
    j["plan_vs_trials"] = {{"speed_error_median", *r.plan_speed_error_median}, {"speed_error_max", *r.plan_speed_error_max}};
    if (r.plan_memory_error_median) {
      j["plan_vs_trials"]["memory_error_median"] = *r.plan_memory_error_median;
      j["plan_vs_trials"]["memory_error_max"] = *r.plan_memory_error_max;
    }
  }
  // The memory limit as the search found it: the largest setting that ran, the smallest that did not.
  std::optional<int64_t> largest_ok, smallest_bad;
  for (const auto& t : r.trials) {
    if (t.feasible()) largest_ok = std::max(largest_ok.value_or(t.knob), t.knob);
    const bool memory = t.outcome == TrialOutcome::kOutOfMemory || t.outcome == TrialOutcome::kOverMemoryLimit ||
                        t.outcome == TrialOutcome::kPredictedTooBig;
    if (memory) smallest_bad = std::min(smallest_bad.value_or(t.knob), t.knob);
  }
  j["largest_feasible"] = largest_ok ? nlohmann::json(*largest_ok) : nlohmann::json();
  j["smallest_infeasible"] = smallest_bad ? nlohmann::json(*smallest_bad) : nlohmann::json();
  return j;
}

std::string tune_result_text(const TuneResult& r) {
  std::string out;
  char buf[512];
  const bool embedded = r.kind == TuneKind::kEmbedded;
  const char* unit = r.kind == TuneKind::kCommand ? "items/s" : "req/s";
  out += r.title + "\n";
  std::snprintf(buf, sizeof buf, "%8s %5s %-18s %9s %7s %9s %9s %9s %9s %9s %9s %10s %s\n", std::string(knob_name(r.kind)).c_str(),
                "lanes", "outcome", unit, "speedup", "compl t/s", "p50 ms", "p95 ms", "p99 ms", "ttft p95", "queue p95",
                "memory MiB", embedded ? "plan req/s, MiB (error)" : "");
  out += buf;
  for (const auto& t : r.trials) {
    if (!t.feasible()) {
      std::snprintf(buf, sizeof buf, "%8lld %5d %-18s %s\n", (long long)t.knob, t.lanes,
                    std::string(trial_outcome_name(t.outcome)).c_str(), t.why.c_str());
      out += buf;
      continue;
    }
    std::string plan;
    if (t.predicted_items_per_s && t.predicted_memory_bytes) {
      std::snprintf(buf, sizeof buf, "%.3g (%+.0f%%), %lld (%+.0f%%)", *t.predicted_items_per_s,
                    t.items_per_s > 0 ? 100.0 * (*t.predicted_items_per_s - t.items_per_s) / t.items_per_s : 0.0,
                    (long long)(*t.predicted_memory_bytes >> 20),
                    t.peak_memory_bytes > 0 ? 100.0 * static_cast<double>(*t.predicted_memory_bytes - t.peak_memory_bytes) /
                                                  static_cast<double>(t.peak_memory_bytes)
                                            : 0.0);
      plan = buf;
    }
    std::snprintf(buf, sizeof buf, "%8lld %5d %-18s %9.3g %6.2fx %9.1f %9.0f %9.0f %9.0f %9.0f %9.0f %10lld %s\n",
                  (long long)t.knob, t.lanes, "measured", t.items_per_s, t.speedup, t.completion_tokens_per_s, t.total.p50_ms,
                  t.total.p95_ms, t.total.p99_ms, t.ttft.p95_ms, t.queue.p95_ms, (long long)(t.peak_memory_bytes >> 20),
                  plan.c_str());
    out += buf;
  }
  out += "pareto (throughput vs p95 latency):";
  for (size_t i : r.choice.pareto) {
    std::snprintf(buf, sizeof buf, "  %lld%s: %.3g %s at %.0f ms", (long long)r.trials[i].knob,
                  embedded ? ("x" + std::to_string(r.trials[i].lanes)).c_str() : "", r.trials[i].items_per_s, unit,
                  r.trials[i].total.p95_ms);
    out += buf;
  }
  out += "\n";
  if (r.choice.chosen) {
    const Trial& t = r.trials[*r.choice.chosen];
    std::snprintf(buf, sizeof buf, "chosen: %s: %.3g %s, %.2fx over 1, p95 %.0f ms (%s)\n", run_flags(r.kind, t).c_str(),
                  t.items_per_s, unit, t.speedup, t.total.p95_ms, r.choice.reason.c_str());
  } else {
    std::snprintf(buf, sizeof buf, "chosen: none (%s)\n", r.choice.reason.c_str());
  }
  out += buf;
  if (r.plan_speed_error_median) {
    std::snprintf(buf, sizeof buf, "plan vs the trials (uncalibrated, at each trial's settings): speed off by %.0f%% (median), %.0f%% at most",
                  100 * *r.plan_speed_error_median, 100 * *r.plan_speed_error_max);
    out += buf;
    if (r.plan_memory_error_median) {
      std::snprintf(buf, sizeof buf, "; memory by %.1f%% (median), %.1f%% at most", 100 * *r.plan_memory_error_median,
                    100 * *r.plan_memory_error_max);
      out += buf;
    }
    out += "\n";
  }
  if (r.speed_factor) {
    std::snprintf(buf, sizeof buf, "calibration: measured/predicted speed %.3g (median of this tune)\n", *r.speed_factor);
    out += buf;
    if (!r.calibration_note.empty()) out += r.calibration_note + "\n";
  }
  if (r.from_cache) {
    std::snprintf(buf, sizeof buf, "from the cache (%s) in %.2f s; the search took %d trials, %.1f s; --refresh measures again\n",
                  r.cache_path.string().c_str(), r.answer_s, r.trials_run, r.wall_s);
  } else {
    const std::string cached = r.cache_path.empty() ? "not cached (no answer)" : "cached in " + r.cache_path.string();
    std::snprintf(buf, sizeof buf, "trials: %d run (%d settings considered), wall time %.1f s; %s\n", r.trials_run,
                  static_cast<int>(r.trials.size()), r.wall_s, cached.c_str());
  }
  out += buf;
  return out;
}

}  // namespace batchwise
