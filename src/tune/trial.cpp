#include "tune/trial.h"

namespace batchwise {
namespace {

nlohmann::json latency_json(const LatencyPercentiles& l) {
  return {{"p50_ms", l.p50_ms}, {"p95_ms", l.p95_ms}, {"p99_ms", l.p99_ms}};
}

LatencyPercentiles latency_from(const nlohmann::json& j) {
  return {j.at("p50_ms").get<double>(), j.at("p95_ms").get<double>(), j.at("p99_ms").get<double>()};
}

constexpr TrialOutcome kOutcomes[] = {TrialOutcome::kMeasured, TrialOutcome::kOutOfMemory,
                                      TrialOutcome::kOverMemoryLimit, TrialOutcome::kPredictedTooBig,
                                      TrialOutcome::kFailed, TrialOutcome::kOutlier, TrialOutcome::kTooFewRequests};

}  // namespace

std::string_view trial_outcome_name(TrialOutcome outcome) {
  switch (outcome) {
    case TrialOutcome::kMeasured: return "measured";
    case TrialOutcome::kOutOfMemory: return "out_of_memory";
    case TrialOutcome::kOverMemoryLimit: return "over_memory_limit";
    case TrialOutcome::kPredictedTooBig: return "predicted_too_big";
    case TrialOutcome::kFailed: return "failed";
    case TrialOutcome::kOutlier: return "outlier";
    case TrialOutcome::kTooFewRequests: return "too_few_requests";
  }
  return "failed";
}

nlohmann::json trial_to_json(const Trial& t) {
  nlohmann::json j = {{"knob", t.knob},
                      {"lanes", t.lanes},
                      {"outcome", trial_outcome_name(t.outcome)},
                      {"feasible", t.feasible()},
                      {"why", t.why},
                      {"items", t.items},
                      {"wall_s", t.wall_s},
                      {"items_per_s", t.items_per_s},
                      {"completion_tokens_per_s", t.completion_tokens_per_s},
                      {"prompt_tokens_per_s", t.prompt_tokens_per_s},
                      {"latency", {{"queue", latency_json(t.queue)}, {"ttft", latency_json(t.ttft)},
                                   {"total", latency_json(t.total)}}},
                      {"peak_memory_bytes", t.peak_memory_bytes},
                      {"memory_source", t.memory_source},
                      {"speedup", t.speedup},
                      {"trial_s", t.trial_s}};
  if (t.predicted_items_per_s) j["predicted_items_per_s"] = *t.predicted_items_per_s;
  if (t.others_cpu_cores >= 0) j["others_cpu_cores"] = t.others_cpu_cores;
  if (t.predicted_memory_bytes) j["predicted_memory_bytes"] = *t.predicted_memory_bytes;
  if (t.ctx_tokens) j["ctx_tokens"] = *t.ctx_tokens;
  return j;
}

Expected<Trial> trial_from_json(const nlohmann::json& j) {
  try {
    Trial t;
    t.knob = j.at("knob").get<int64_t>();
    t.lanes = j.at("lanes").get<int>();
    const auto outcome = j.at("outcome").get<std::string>();
    bool known = false;
    for (TrialOutcome o : kOutcomes) {
      if (trial_outcome_name(o) == outcome) {
        t.outcome = o;
        known = true;
      }
    }
    if (!known) return make_error(ErrorCode::kCorrupt, "trial outcome `" + outcome + "` is not one batchwise writes");
    t.why = j.at("why").get<std::string>();
    t.items = j.at("items").get<int64_t>();
    t.wall_s = j.at("wall_s").get<double>();
    t.items_per_s = j.at("items_per_s").get<double>();
    t.completion_tokens_per_s = j.at("completion_tokens_per_s").get<double>();
    t.prompt_tokens_per_s = j.at("prompt_tokens_per_s").get<double>();
    const auto& lat = j.at("latency");
    t.queue = latency_from(lat.at("queue"));
    t.ttft = latency_from(lat.at("ttft"));
    t.total = latency_from(lat.at("total"));
    t.peak_memory_bytes = j.at("peak_memory_bytes").get<int64_t>();
    t.memory_source = j.at("memory_source").get<std::string>();
    t.speedup = j.at("speedup").get<double>();
    t.trial_s = j.at("trial_s").get<double>();
    if (j.contains("predicted_items_per_s")) t.predicted_items_per_s = j["predicted_items_per_s"].get<double>();
    if (j.contains("predicted_memory_bytes")) t.predicted_memory_bytes = j["predicted_memory_bytes"].get<int64_t>();
    if (j.contains("ctx_tokens")) t.ctx_tokens = j["ctx_tokens"].get<int64_t>();
    return t;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kCorrupt, std::string("a cached trial is malformed: ") + e.what());
  }
}

}  // namespace batchwise
