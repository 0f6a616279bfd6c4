#include "tune/plan_predictor.h"

#include <algorithm>

#include "core/log.h"

namespace batchwise {

void apply_run_flags(const std::vector<std::string>& a, PlanRequest& req) {
  auto number = [](const std::string& s) -> std::optional<int64_t> {
    try {
      return std::stoll(s);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  for (size_t i = 0; i + 1 < a.size(); ++i) {
    const std::string& flag = a[i];
    const std::string& value = a[i + 1];
    if (flag == "-ub" || flag == "--ubatch-size" || flag == "--ubatch") {
      if (const auto n = number(value)) req.ubatch_tokens = *n;
    } else if (flag == "-ctk" || flag == "--cache-type-k") {
      req.k_type = value;
    } else if (flag == "-ctv" || flag == "--cache-type-v") {
      req.v_type = value;
    } else if (flag == "--kv-type") {
      req.kv_type = value;
    } else if (flag == "-fa" || flag == "--flash-attn") {
      req.flash_attention = value != "off";
    } else if (flag == "--attention") {
      req.sparse_attention = value != "dense";
    }
  }
}

std::optional<WorkloadShape> workload_from_trial(const Trial& t) {
  if (!t.feasible() || t.items <= 0 || t.prompt_tokens <= 0) return std::nullopt;
  const auto n = static_cast<double>(t.items);
  const double prompt = static_cast<double>(t.prompt_tokens) / n;
  // Evaluated = shared + n x (prompt - shared): the prefix once, every request's own part.
  double shared = t.items > 1 ? (n * prompt - static_cast<double>(t.evaluated_prompt_tokens)) / (n - 1.0) : 0.0;
  shared = std::clamp(shared, 0.0, prompt);
  WorkloadShape w{"measured", static_cast<int64_t>(prompt + 0.5), static_cast<int64_t>(shared + 0.5),
                  std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(t.completion_tokens) / n + 0.5))};
  return w;
}

std::optional<PlanPredictor> PlanPredictor::make(const std::filesystem::path& model, const WorkloadShape& workload,
                                                 const std::vector<std::string>& run_args) {
  PlanRequest req;
  req.model = model.string();
  req.workload = workload;
  req.workload.prompt_tokens = std::max<int64_t>(1, req.workload.prompt_tokens);
  req.workload.output_tokens = std::max<int64_t>(1, req.workload.output_tokens);
  apply_run_flags(run_args, req);
  auto plan = make_plan(req);
  if (!plan) {
    log_warn("plan cannot predict this model (" + plan.error().message + "): trials are shown without predictions");
    return std::nullopt;
  }
  return PlanPredictor(std::move(*plan));
}

BatchChoice PlanPredictor::at(int64_t total, int lanes, std::optional<int64_t> ctx_tokens) const {
  RunLayout l = layout_for(plan_.input, total, lanes);
  if (ctx_tokens) l.ctx_tokens = *ctx_tokens;
  return evaluate_layout(plan_.input, l);
}

int64_t PlanPredictor::memory_bytes(int64_t total, int lanes, std::optional<int64_t> ctx_tokens) const {
  const MemoryEstimate m = at(total, lanes, ctx_tokens).memory;
  return m.device.total_bytes() + (m.on_gpu ? 0 : m.host.total_bytes());
}

double PlanPredictor::requests_per_s(int64_t total, int lanes, std::optional<int64_t> ctx_tokens) const {
  return at(total, lanes, ctx_tokens).perf.requests_per_s;
}

double PlanPredictor::bytes_per_lane(int64_t per_lane) const {
  return static_cast<double>(memory_bytes(2 * per_lane, 2, std::nullopt) - memory_bytes(2 * per_lane, 1, std::nullopt));
}

}  // namespace batchwise
