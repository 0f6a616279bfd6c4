// ServeMetrics: the counters and histograms `serve` exports at /metrics in Prometheus's text format
// (version 0.0.4). The names and their meaning are written down in docs/metrics.md. Results are counted
// as they are recorded; gauges (batches by status, queue depth, models, GPU) are given at scrape time.
//
// Threads: observe() and the counters from any thread (a mutex); render() from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "job/job_store.h"
#include "server/engine_pool.h"

namespace batchwise {

// A Prometheus histogram with fixed buckets (seconds).
class Histogram {
 public:
  static constexpr std::array<double, 12> kBoundsS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  void observe(double seconds);
  // Appends the _bucket, _sum and _count lines of `name` with `labels` ("model=\"tiny\"" or "").
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::array<int64_t, kBoundsS.size()> counts_{};
  int64_t count_ = 0;
  double sum_ = 0;
};

// What the server knows at scrape time, besides the counters.
struct ServeGauges {
  std::map<std::string, int64_t> batches_by_status;
  int64_t queued_requests = 0;       // lines of running batches not yet sent
  std::vector<ModelView> models;
  std::optional<int64_t> gpu_memory_used_bytes;
  std::optional<double> gpu_utilization_percent;
};

class ServeMetrics {
 public:
  // A batch or interactive result as it is recorded; `model` is the resolved model id.
  void observe(const std::string& model, const ResultRecord& r, bool interactive);
  void count_http_request(int status_code);
  std::string render(const ServeGauges& gauges) const;

 private:
  struct PerModel {
    int64_t ok = 0, failed = 0, interactive = 0;
    int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
    Histogram queue, ttft, total;
  };
  mutable std::mutex mu_;
  std::map<std::string, PerModel> models_;
  std::map<int, int64_t> http_by_status_;
};

}  // namespace batchwise
