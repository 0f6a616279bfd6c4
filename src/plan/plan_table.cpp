#include "plan/plan_table.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/units.h"

namespace batchwise {

std::string plan_table_text(const std::vector<PlanRow>& rows) {
  std::string out;
  char line[512];
  if (!rows.empty() && rows.front().plan) {
    const Plan& p = *rows.front().plan;
    const Device& d = p.input.device;
    const auto& w = p.input.workload;
    out += "device    " + d.name + " [" + d.source + "]: " + format_gib(d.memory_bytes) + "\n";
    out += "workload  " + (w.name.empty() ? std::string("custom") : w.name) + ": " + std::to_string(w.prompt_tokens) +
           " prompt tokens (" + std::to_string(w.shared_prefix_tokens) + " shared) + " + std::to_string(w.output_tokens) +
           " output\n\n";
  }
  std::snprintf(line, sizeof line, "%-22s %-8s %10s | %5s %5s %5s %5s | %8s %8s %8s | %8s %10s\n", "model", "quant",
                "weights", "rec", "lanes", "max", "safe", "max", "rec", "safe", "req/s", "tokens/s");
  std::string header = line;
  std::snprintf(line, sizeof line, "%-45s%-23s | %-26s | %s\n", "", "batch", "context per request, tokens",
                "at recommended batch");
  out += line + header;
  for (const auto& row : rows) {
    if (!row.plan) {
      out += row.model + ": " + row.plan.error().message + "\n";
      continue;
    }
    const Plan& p = *row.plan;
    const Recommendation& r = p.recommendation;
    const std::string name = p.model.spec.name.empty() ? row.model : p.model.spec.name;
    if (!r.fits) {
      std::snprintf(line, sizeof line, "%-22s %-8s %10s | does not fit: short by %s (plan -m %s for the options)\n",
                    name.c_str(), p.quant.c_str(), format_gib(p.weights.total_bytes).c_str(),
                    format_gib(r.shortfall_bytes).c_str(), row.model.c_str());
      out += line;
      continue;
    }
    const std::string safe = r.safe_meets_headroom ? std::to_string(r.safe.batch) : "none";
    std::snprintf(line, sizeof line, "%-22s %-8s %10s | %5lld %5lld %5lld %5s | %8lld %8lld %8lld | %8.2f %10.1f\n",
                  name.c_str(), p.quant.c_str(), format_gib(p.weights.total_bytes).c_str(),
                  (long long)r.recommended.batch, (long long)r.recommended.lanes, (long long)r.max.batch, safe.c_str(),
                  (long long)r.per_request.max_tokens, (long long)r.per_request.recommended_tokens,
                  (long long)r.per_request.safe_tokens, r.recommended.perf.requests_per_s,
                  r.recommended.perf.decode_tokens_per_s);
    out += line;
  }
  return out;
}

std::string plan_table_json(const std::vector<PlanRow>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& row : rows) {
    if (!row.plan) {
      j.push_back({{"model", row.model}, {"error", row.plan.error().message}});
      continue;
    }
    const Plan& p = *row.plan;
    const Recommendation& r = p.recommendation;
    nlohmann::json e = {{"model", row.model},
                        {"name", p.model.spec.name},
                        {"quant", p.quant},
                        {"weights_bytes", p.weights.total_bytes},
                        {"device", p.input.device.name},
                        {"device_memory_bytes", p.input.device.memory_bytes},
                        {"fits", r.fits}};
    if (!r.fits) {
      e["shortfall_bytes"] = r.shortfall_bytes;
    } else {
      e["batch"] = {{"recommended", r.recommended.batch}, {"max", r.max.batch},
                    {"safe", r.safe_meets_headroom ? nlohmann::json(r.safe.batch) : nlohmann::json(nullptr)}};
      e["context_per_request"] = {{"max_tokens", r.per_request.max_tokens},
                                  {"recommended_tokens", r.per_request.recommended_tokens},
                                  {"safe_tokens", r.per_request.safe_tokens}};
      e["recommended"] = {{"lanes", r.recommended.lanes},
                          {"requests_per_s", r.recommended.perf.requests_per_s},
                          {"decode_tokens_per_s", r.recommended.perf.decode_tokens_per_s},
                          {"request_latency_s", r.recommended.perf.request_latency_s},
                          {"context_tokens", r.recommended.context_tokens},
                          {"device_memory_bytes", r.recommended.memory.device.total_bytes()}};
    }
    j.push_back(e);
  }
  return j.dump(2);
}

}  // namespace batchwise
