#include "job/report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

#include "job/progress.h"

namespace batchwise {

LatencySummary latency_percentiles(std::vector<double>& v) {
  LatencySummary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]; };
  s.p50_ms = at(0.50);
  s.p90_ms = at(0.90);
  s.p95_ms = at(0.95);
  s.p99_ms = at(0.99);
  return s;
}

namespace {

int64_t proc_status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  int64_t value = 0;
  while (in >> key) {
    if (key == field) {
      in >> value;
      return value * 1024;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

nlohmann::json latency_json(const LatencySummary& l) {
  return {{"p50_ms", l.p50_ms}, {"p90_ms", l.p90_ms}, {"p95_ms", l.p95_ms}, {"p99_ms", l.p99_ms}};
}

}  // namespace

int64_t peak_rss_bytes() { return proc_status_kib("VmHWM:"); }
int64_t current_rss_bytes() { return proc_status_kib("VmRSS:"); }

Expected<RunReport> build_report(JobStore& store, const JobMeta& meta) {
  BW_ASSIGN_OR_RETURN(RunReport r, build_report(std::vector<JobStore*>{&store}, meta.requests + meta.invalid_lines));
  // Speed over the time runs spent on it (every session's), not since the job was created.
  if (meta.run_ms > 0) {
    r.wall_s = static_cast<double>(meta.run_ms) / 1000.0;
    r.requests_per_s = static_cast<double>(r.ok + r.failed) / r.wall_s;
    r.tokens_per_s = static_cast<double>(r.completion_tokens) / r.wall_s;
  }
  return r;
}

Expected<RunReport> build_report(const std::vector<JobStore*>& stores, int64_t requests) {
  RunReport r;
  r.requests = requests;
  std::vector<double> queue, ttft, total;
  auto add = [&](const ResultRecord& rec) {
    if (rec.ok) {
      r.ok++;
      r.prompt_tokens += rec.prompt_tokens;
      r.cached_tokens += rec.cached_tokens;
      r.completion_tokens += rec.completion_tokens;
      queue.push_back(rec.queue_ms);
      ttft.push_back(rec.ttft_ms);
      total.push_back(rec.total_ms);
    } else {
      r.failed++;
      r.failed_by_class[rec.error_code]++;
      if (rec.attempts == 0) r.failed_input_lines++;
    }
  };
  for (JobStore* store : stores) BW_TRY(store->for_each_figures(add));
  r.pending = r.requests - r.ok - r.failed;
  r.evaluated_prompt_tokens = r.prompt_tokens - r.cached_tokens;
  r.queue = latency_percentiles(queue);
  r.ttft = latency_percentiles(ttft);
  r.total = latency_percentiles(total);
  return r;
}

nlohmann::json report_json(const RunReport& r) {
  const double naive = static_cast<double>(r.prompt_tokens);
  nlohmann::json j = {
      {"requests", r.requests},
      {"ok", r.ok},
      {"failed", r.failed},
      {"pending", r.pending},
      {"failed_by_class", r.failed_by_class},
      {"failed_input_lines", r.failed_input_lines},
      {"tokens",
       {{"prompt", r.prompt_tokens},
        {"cached", r.cached_tokens},
        {"evaluated_prompt", r.evaluated_prompt_tokens},
        {"completion", r.completion_tokens},
        {"prefill_saved_fraction", naive > 0 ? 1.0 - static_cast<double>(r.evaluated_prompt_tokens) / naive : 0.0}}},
      {"wall_s", r.wall_s},
      {"requests_per_s", r.requests_per_s},
      {"completion_tokens_per_s", r.tokens_per_s},
      {"latency", {{"queue", latency_json(r.queue)}, {"ttft", latency_json(r.ttft)}, {"total", latency_json(r.total)}}},
      {"memory",
       {{"peak_rss_bytes", r.resources.peak_rss_bytes},
        {"rss_growth_bytes_per_1000_requests", r.resources.rss_growth_bytes_per_1000},
        {"rss_leak_suspected", r.resources.rss_leak_suspected}}},
  };
  if (r.inter_token) j["latency"]["inter_token"] = latency_json(*r.inter_token);
  if (r.resources.peak_gpu_memory_bytes) j["memory"]["peak_gpu_memory_bytes"] = *r.resources.peak_gpu_memory_bytes;
  if (r.resources.peak_gpu_process_memory_bytes) {
    j["memory"]["peak_gpu_process_memory_bytes"] = *r.resources.peak_gpu_process_memory_bytes;
  }
  if (r.resources.mean_gpu_utilization) j["memory"]["mean_gpu_utilization"] = *r.resources.mean_gpu_utilization;
  return j;
}

namespace {

// Error codes that say the request itself was refused: the same body on the same engine fails the same way
// (`unsupported`: what the engine does not serve, e.g. /v1/embeddings on a generative model).
bool refused_as_request(const std::string& code) {
  return code == "invalid_request" || code == "invalid_request_error" || code == "unsupported";
}
// Error codes that the engine's context size decides.
bool over_the_context(const std::string& code) {
  return code == "context_length_exceeded" || code == "exceed_context_size_error";
}

std::string plural(int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::vector<std::string> retry_advice(const RunReport& r) {
  std::vector<std::string> lines;
  if (r.failed == 0) return lines;
  int64_t refused = -r.failed_input_lines, context = 0;  // the input lines are recorded as invalid_request too
  for (const auto& [code, n] : r.failed_by_class) {
    if (refused_as_request(code)) refused += n;
    if (over_the_context(code)) context += n;
  }
  refused = std::max<int64_t>(0, refused);
  const int64_t other = r.failed - r.failed_input_lines - refused - context;
  const int64_t rerun = r.failed - r.failed_input_lines;
  if (r.failed_input_lines > 0) {
    lines.push_back(plural(r.failed_input_lines, "input line is", "input lines are") +
                    " not a request (the error file says why): fix the input; an edited input is a new job "
                    "(--restart), and --retry-failed leaves these lines");
  }
  if (context > 0) {
    lines.push_back(plural(context, "request", "requests") +
                    " did not fit the context: raise --ctx-size (or lower their max_tokens), then --retry-failed");
  }
  if (refused > 0) {
    lines.push_back(plural(refused, "request was", "requests were") +
                    " refused as requests (invalid_request: a field this engine does not take, a bad value): "
                    "they fail again unless the body or the engine changes");
  }
  if (other > 0) {
    lines.push_back(plural(other, "request", "requests") +
                    " failed for a passing reason (server errors, timeouts, an engine stop): a retry can fix them as "
                    "they are");
  }
  if (context + other > 0) {
    lines.push_back("the same command with --retry-failed runs the " + plural(rerun, "failed request", "failed requests") +
                    " again and keeps every success");
  } else if (refused > 0) {
    lines.push_back("with an engine that takes them (--endpoint), --retry-failed runs the " +
                    plural(refused, "refused request", "refused requests") + " again and keeps every success");
  }
  return lines;
}

std::string report_text(const RunReport& r) {
  char buf[1024];
  std::string out;
  std::snprintf(buf, sizeof buf, "requests: %lld ok, %lld failed, %lld pending (of %lld)\n", (long long)r.ok,
                (long long)r.failed, (long long)r.pending, (long long)r.requests);
  out += buf;
  for (const auto& [code, n] : r.failed_by_class) {
    std::snprintf(buf, sizeof buf, "  failed %-26s %lld\n", code.c_str(), (long long)n);
    out += buf;
  }
  if (r.failed_input_lines > 0) {
    std::snprintf(buf, sizeof buf, "  (%lld of the failed are input lines that are not requests)\n",
                  (long long)r.failed_input_lines);
    out += buf;
  }
  const double saved = r.prompt_tokens > 0 ? 100.0 * (1.0 - static_cast<double>(r.evaluated_prompt_tokens) /
                                                                 static_cast<double>(r.prompt_tokens))
                                           : 0.0;
  std::snprintf(buf, sizeof buf,
                "tokens: %lld prompt (%lld cached, %lld evaluated: %.1f%% of prefill saved), %lld completion\n",
                (long long)r.prompt_tokens, (long long)r.cached_tokens, (long long)r.evaluated_prompt_tokens, saved,
                (long long)r.completion_tokens);
  out += buf;
  if (r.wall_s > 0) {
    std::snprintf(buf, sizeof buf, "speed: %.2f req/s, %.1f completion tok/s over %s\n", r.requests_per_s,
                  r.tokens_per_s, Progress::format_duration(r.wall_s).c_str());
    out += buf;
  }
  // p95 too: tune's SLOs (--slo-p95-ms) are written in it, so the summary must show what they compare with.
  std::snprintf(buf, sizeof buf,
                "latency ms (p50/p90/p95/p99): queue %.0f/%.0f/%.0f/%.0f, first token %.0f/%.0f/%.0f/%.0f, "
                "total %.0f/%.0f/%.0f/%.0f\n",
                r.queue.p50_ms, r.queue.p90_ms, r.queue.p95_ms, r.queue.p99_ms, r.ttft.p50_ms, r.ttft.p90_ms,
                r.ttft.p95_ms, r.ttft.p99_ms, r.total.p50_ms, r.total.p90_ms, r.total.p95_ms, r.total.p99_ms);
  out += buf;
  if (r.inter_token) {
    std::snprintf(buf, sizeof buf,
                  "inter-token ms (p50/p90/p95/p99 of each request's mean gap): %.1f/%.1f/%.1f/%.1f\n",
                  r.inter_token->p50_ms, r.inter_token->p90_ms, r.inter_token->p95_ms, r.inter_token->p99_ms);
    out += buf;
  }
  if (r.resources.peak_rss_bytes > 0) {
    std::snprintf(buf, sizeof buf, "memory: peak RSS %.1f MiB, growth %.2f MiB per 1000 requests\n",
                  static_cast<double>(r.resources.peak_rss_bytes) / 1048576.0,
                  r.resources.rss_growth_bytes_per_1000 / 1048576.0);
    out += buf;
    if (r.resources.rss_leak_suspected) {
      std::snprintf(buf, sizeof buf, "warning: memory grew more than %.0f MiB per 1000 requests: a leak? (report it)\n",
                    kLeakWarningBytesPer1000 / 1048576.0);
      out += buf;
    }
  }
  if (r.resources.peak_gpu_memory_bytes) {
    std::snprintf(buf, sizeof buf, "gpu: peak memory %.1f GiB, mean utilization %.0f%%",
                  static_cast<double>(*r.resources.peak_gpu_memory_bytes) / 1073741824.0,
                  r.resources.mean_gpu_utilization.value_or(0.0));
    out += buf;
    if (r.resources.peak_gpu_process_memory_bytes) {
      std::snprintf(buf, sizeof buf, " (%.1f GiB of it this run's)",
                    static_cast<double>(*r.resources.peak_gpu_process_memory_bytes) / 1073741824.0);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

}  // namespace batchwise
