// BatchService's observability part: /metrics (Prometheus text), the live page's JSON, GPU samples.
#include <algorithm>
#include <chrono>
#include <map>

#include "core/clock.h"
#include "server/batch_live.h"
#include "server/batch_service.h"

namespace batchwise {

std::optional<GpuSampler::Sample> BatchService::sample_gpu() {
  std::lock_guard lock(gpu_mu_);
  return gpus_.sample();
}

std::string BatchService::metrics_text() {
  ServeGauges g;
  if (auto counts = store_->count_by("batch", "status")) {
    for (const auto& [status, n] : *counts) g.batches_by_status[status.empty() ? "unknown" : status] += n;
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, l] : live_) {
      const JobCounts c = l->job->counts();
      g.queued_requests += c.total - c.ok - c.failed;
    }
  }
  g.models = pool_->views();
  if (auto s = sample_gpu()) {
    g.gpu_memory_used_bytes = s->memory_used_bytes;
    g.gpu_utilization_percent = s->utilization_percent;
  }
  return metrics_.render(g);
}

nlohmann::json BatchService::status_json() {
  nlohmann::json batches = nlohmann::json::array();
  std::map<std::string, std::shared_ptr<Live>> live;
  {
    std::lock_guard lock(mu_);
    live = live_;
  }
  if (auto docs = store_->list("batch", 50)) {
    for (auto& d : *docs) {
      auto record = BatchRecord::from_stored(d);
      if (!record) continue;
      const auto it = live.find(record->id);
      if (it == live.end()) {
        batches.push_back(record->to_api());
        continue;
      }
      // One reading of the live job's counts for the object and the rates alike.
      const JobCounts c = it->second->job->counts();
      record->request_counts = counts_of(c);
      nlohmann::json b = record->to_api();
      const double elapsed = std::max(1e-3, now_s() - it->second->started_s);
      const double rate = static_cast<double>(c.ok + c.failed - it->second->done_at_start) / elapsed;
      b["requests_per_s"] = rate;
      const int64_t tokens = it->second->job->store().stored().completion_tokens - it->second->tokens_at_start;
      b["tokens_per_s"] = static_cast<double>(tokens) / elapsed;
      b["eta_s"] = rate > 0 ? nlohmann::json(static_cast<double>(c.total - c.ok - c.failed) / rate) : nlohmann::json();
      batches.push_back(std::move(b));
    }
  }
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : pool_->views()) {
    nlohmann::json model = {{"id", m.id}, {"loaded", m.loaded}, {"in_flight", m.in_flight}, {"loads", m.loads},
                            {"evictions", m.evictions}, {"generated_tokens", m.stats.generated_tokens},
                            {"prompt_tokens_evaluated", m.stats.prompt_tokens_evaluated}};
    // The sum of its running batches' rates: steady, where the tokens counted at each answer's end jump.
    for (const auto& b : batches) {
      if (b.value("model", "") == m.id && b.contains("tokens_per_s")) {
        model["tokens_per_s"] = model.value("tokens_per_s", 0.0) + b["tokens_per_s"].get<double>();
      }
    }
    models.push_back(std::move(model));
  }
  // Seconds with a fraction: the page divides the tokens generated between two polls by it.
  const double time_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  nlohmann::json j = {{"batches", batches}, {"models", models}, {"time", time_s}};
  {
    std::lock_guard lock(mu_);
    j["recent_errors"] = recent_errors_;
  }
  if (auto s = sample_gpu()) {
    j["gpu"] = {{"memory_used_bytes", s->memory_used_bytes}, {"utilization_percent", s->utilization_percent}};
  }
  return j;
}

}  // namespace batchwise
