#include "server/metrics.h"

#include <cstdio>

namespace batchwise {
namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// `# HELP` and `# TYPE` once per family, then its samples.
void family(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
  out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + num(value) + "\n";
}

std::string label(const std::string& key, const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return key + "=\"" + escaped + "\"";
}

}  // namespace

void Histogram::observe(double seconds) {
  for (size_t i = 0; i < kBoundsS.size(); ++i) {
    if (seconds <= kBoundsS[i]) counts_[i]++;
  }
  count_++;
  sum_ += seconds;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : labels + ",";
  for (size_t i = 0; i < kBoundsS.size(); ++i) {
    out += name + "_bucket{" + sep + "le=\"" + num(kBoundsS[i]) + "\"} " + std::to_string(counts_[i]) + "\n";
  }
  out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
  sample(out, name + "_sum", labels, sum_);
  sample(out, name + "_count", labels, static_cast<double>(count_));
}

void ServeMetrics::observe(const std::string& model, const ResultRecord& r, bool interactive) {
  std::lock_guard lock(mu_);
  PerModel& m = models_[model];
  (r.ok ? m.ok : m.failed)++;
  if (interactive) m.interactive++;
  m.prompt_tokens += r.prompt_tokens;
  m.cached_tokens += r.cached_tokens;
  m.completion_tokens += r.completion_tokens;
  if (r.ok) {
    m.queue.observe(r.queue_ms / 1000.0);
    m.ttft.observe(r.ttft_ms / 1000.0);
    m.total.observe(r.total_ms / 1000.0);
  }
}

void ServeMetrics::count_http_request(int status_code) {
  std::lock_guard lock(mu_);
  http_by_status_[status_code]++;
}

std::string ServeMetrics::render(const ServeGauges& g) const {
  std::lock_guard lock(mu_);
  std::string out;
  family(out, "batchwise_requests_total", "counter", "Requests finished, by model and outcome (ok, failed).");
  for (const auto& [model, m] : models_) {
    sample(out, "batchwise_requests_total", label("model", model) + "," + label("outcome", "ok"),
           static_cast<double>(m.ok));
    sample(out, "batchwise_requests_total", label("model", model) + "," + label("outcome", "failed"),
           static_cast<double>(m.failed));
  }
  family(out, "batchwise_interactive_requests_total", "counter",
         "Requests that came through /v1/chat/completions or /v1/completions, not a batch.");
  for (const auto& [model, m] : models_) {
    sample(out, "batchwise_interactive_requests_total", label("model", model), static_cast<double>(m.interactive));
  }
  family(out, "batchwise_tokens_total", "counter",
         "Tokens of finished requests: prompt, cached (prompt tokens not evaluated), evaluated, completion.");
  for (const auto& [model, m] : models_) {
    const std::string l = label("model", model) + ",";
    sample(out, "batchwise_tokens_total", l + label("kind", "prompt"), static_cast<double>(m.prompt_tokens));
    sample(out, "batchwise_tokens_total", l + label("kind", "cached"), static_cast<double>(m.cached_tokens));
    sample(out, "batchwise_tokens_total", l + label("kind", "evaluated"),
           static_cast<double>(m.prompt_tokens - m.cached_tokens));
    sample(out, "batchwise_tokens_total", l + label("kind", "completion"), static_cast<double>(m.completion_tokens));
  }
  const std::pair<const char*, const Histogram PerModel::*> histograms[] = {
      {"batchwise_request_queue_seconds", &PerModel::queue},
      {"batchwise_request_ttft_seconds", &PerModel::ttft},
      {"batchwise_request_duration_seconds", &PerModel::total}};
  const char* helps[] = {"Submit to the first prompt token evaluated (or sent).", "Submit to the first generated token.",
                         "Submit to the last token."};
  for (size_t i = 0; i < 3; ++i) {
    family(out, histograms[i].first, "histogram", helps[i]);
    for (const auto& [model, m] : models_) (m.*histograms[i].second).render(out, histograms[i].first, label("model", model));
  }
  family(out, "batchwise_http_requests_total", "counter", "HTTP requests answered, by status code.");
  for (const auto& [code, n] : http_by_status_) {
    sample(out, "batchwise_http_requests_total", label("code", std::to_string(code)), static_cast<double>(n));
  }
  family(out, "batchwise_batches", "gauge", "Batches by status.");
  for (const auto& [status, n] : g.batches_by_status) {
    sample(out, "batchwise_batches", label("status", status), static_cast<double>(n));
  }
  family(out, "batchwise_queue_requests", "gauge", "Lines of running batches not sent to an engine yet.");
  sample(out, "batchwise_queue_requests", "", static_cast<double>(g.queued_requests));
  family(out, "batchwise_model_loaded", "gauge", "1 while the model is loaded.");
  for (const auto& m : g.models) sample(out, "batchwise_model_loaded", label("model", m.id), m.loaded ? 1 : 0);
  family(out, "batchwise_model_in_flight_requests", "gauge", "Requests the model's engine holds now.");
  for (const auto& m : g.models) {
    sample(out, "batchwise_model_in_flight_requests", label("model", m.id), static_cast<double>(m.in_flight));
  }
  family(out, "batchwise_model_loads_total", "counter", "Times the model was loaded.");
  for (const auto& m : g.models) sample(out, "batchwise_model_loads_total", label("model", m.id), static_cast<double>(m.loads));
  family(out, "batchwise_model_evictions_total", "counter", "Times the model was unloaded to make room (LRU).");
  for (const auto& m : g.models) {
    sample(out, "batchwise_model_evictions_total", label("model", m.id), static_cast<double>(m.evictions));
  }
  if (g.gpu_memory_used_bytes) {
    family(out, "batchwise_gpu_memory_used_bytes", "gauge", "GPU memory in use (all processes, all GPUs; NVML).");
    sample(out, "batchwise_gpu_memory_used_bytes", "", static_cast<double>(*g.gpu_memory_used_bytes));
  }
  if (g.gpu_utilization_percent) {
    family(out, "batchwise_gpu_utilization_percent", "gauge", "GPU busy share of the last sample period (NVML).");
    sample(out, "batchwise_gpu_utilization_percent", "", *g.gpu_utilization_percent);
  }
  return out;
}

}  // namespace batchwise
