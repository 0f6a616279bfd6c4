#include "tune/trial_runners.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/units.h"

namespace batchwise {
namespace {

LatencyPercentiles latency_of(const nlohmann::json& j) {
  LatencyPercentiles l;
  if (!j.is_object()) return l;
  auto num = [&](const char* key) { return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0; };
  l.p50_ms = num("p50_ms");
  l.p95_ms = j.contains("p95_ms") ? num("p95_ms") : num("p90_ms");  // reports before p95 existed: p90
  l.p99_ms = num("p99_ms");
  return l;
}

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last.size() > 300 ? last.substr(0, 300) + "..." : last;
}

// Seconds of CPU the whole machine was busy (all cores, /proc/stat), and the CPU this process's waited-for
// children used: their difference over a trial is what other processes took from it.
double machine_busy_s() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu") return -1;
  return (user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double children_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

void classify_child_end(const ChildResult& r, Trial& t) {
  t.trial_s = r.wall_s;
  if (r.over_memory_limit) {
    t.outcome = TrialOutcome::kOverMemoryLimit;
    t.why = "stopped: its memory passed the limit (" + format_gib(r.peak_gpu_process_memory_bytes.value_or(r.peak_gpu_memory_bytes.value_or(r.peak_rss_bytes))) + " seen)";
  } else if (r.timed_out) {
    t.outcome = TrialOutcome::kFailed;
    t.why = "stopped: ran past the trial timeout";
  } else if (ran_out_of_memory(r)) {
    t.outcome = TrialOutcome::kOutOfMemory;
    const std::string said = last_line(r.err);
    t.why = r.signal ? "out of memory: killed by signal " + std::to_string(r.signal)
            : said.find("out of memory") != std::string::npos ? said
                                                              : "out of memory: " + said;
  } else if (!r.exited_ok()) {
    t.outcome = TrialOutcome::kFailed;
    t.why = (r.signal ? "killed by signal " + std::to_string(r.signal) : "exit status " + std::to_string(r.exit_code)) +
            ": " + last_line(r.err);
  }
}

Expected<Trial> trial_from_run_report(const std::string& json_text) {
  const auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(ErrorCode::kCorrupt, "the trial's report is not JSON");
  try {
    Trial t;
    t.items = j.at("ok").get<int64_t>();
    t.wall_s = j.at("wall_s").get<double>();
    t.items_per_s = j.at("requests_per_s").get<double>();
    t.completion_tokens_per_s = j.at("completion_tokens_per_s").get<double>();
    const auto& tokens = j.at("tokens");
    t.prompt_tokens_per_s = t.wall_s > 0 ? tokens.at("prompt").get<double>() / t.wall_s : 0.0;
    t.prompt_tokens = tokens.at("prompt").get<int64_t>();
    if (tokens.contains("evaluated_prompt")) t.evaluated_prompt_tokens = tokens["evaluated_prompt"].get<int64_t>();
    if (tokens.contains("completion")) t.completion_tokens = tokens["completion"].get<int64_t>();
    const auto& lat = j.at("latency");
    t.queue = latency_of(lat.value("queue", nlohmann::json{}));
    t.ttft = latency_of(lat.value("ttft", nlohmann::json{}));
    t.total = latency_of(lat.value("total", nlohmann::json{}));
    const auto& mem = j.at("memory");
    if (mem.contains("peak_gpu_process_memory_bytes")) {
      t.peak_memory_bytes = mem["peak_gpu_process_memory_bytes"].get<int64_t>();
      t.memory_source = "gpu process";
    } else if (mem.contains("peak_gpu_memory_bytes")) {
      t.peak_memory_bytes = mem["peak_gpu_memory_bytes"].get<int64_t>();
      t.memory_source = "gpu device";
    } else {
      t.peak_memory_bytes = mem.at("peak_rss_bytes").get<int64_t>();
      t.memory_source = "rss";
    }
    if (j.at("failed").get<int64_t>() > 0) {
      t.outcome = TrialOutcome::kFailed;
      std::string classes;
      for (const auto& [code, n] : j.at("failed_by_class").items()) {
        classes += (classes.empty() ? "" : ", ") + code + " " + std::to_string(n.get<int64_t>());
        if (code == "out_of_memory") t.outcome = TrialOutcome::kOutOfMemory;
      }
      t.why = std::to_string(j["failed"].get<int64_t>()) + " requests failed (" + classes + ")";
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kCorrupt, std::string("the trial's report lacks a field: ") + e.what());
  }
}

Expected<RunTrials> RunTrials::open(RunTrialOptions options) {
  RunTrials t(std::move(options));
  std::ifstream in(t.o_.workload);
  if (!in) return make_error(ErrorCode::kNotFound, t.o_.workload.string() + ": cannot open the workload");
  std::string line;
  while (static_cast<int64_t>(t.lines_.size()) < t.o_.max_requests && std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("custom_id") && j["custom_id"].is_string()) t.lines_.push_back(line);
  }
  if (t.lines_.empty()) {
    return make_error(ErrorCode::kInvalidArgument, t.o_.workload.string() + ": no request lines with a custom_id");
  }
  std::error_code ec;
  std::filesystem::create_directories(t.o_.work_dir, ec);
  if (ec) return make_error(ErrorCode::kIo, t.o_.work_dir.string() + ": " + ec.message());
  return t;
}

int64_t RunTrials::slice_requests(int64_t knob) const {
  const auto n = static_cast<int64_t>(std::ceil(o_.waves * static_cast<double>(knob)));
  return std::clamp(n, o_.min_requests, std::max(o_.min_requests, o_.max_requests));
}

Status RunTrials::write_slice(const std::filesystem::path& path, int64_t requests) const {
  std::ofstream out(path, std::ios::trunc);
  for (int64_t i = 0; i < requests; ++i) {
    const auto& line = lines_[static_cast<size_t>(i) % lines_.size()];
    if (i < static_cast<int64_t>(lines_.size())) {
      out << line << '\n';
      continue;
    }
    auto j = nlohmann::json::parse(line);
    j["custom_id"] = j["custom_id"].get<std::string>() + "#" + std::to_string(i / static_cast<int64_t>(lines_.size()));
    out << j.dump() << '\n';
  }
  if (!out) return make_error(ErrorCode::kIo, path.string() + ": cannot write a trial slice");
  return {};
}

Trial RunTrials::run(int64_t knob, int lanes, std::optional<int64_t> ctx_tokens) {
  Trial t;
  t.knob = knob;
  t.lanes = lanes;
  const auto tag = std::to_string(++serial_);
  const auto slice = o_.work_dir / ("slice-" + tag + ".jsonl");
  const auto out = o_.work_dir / ("out-" + tag + ".jsonl");
  std::vector<std::string> argv = {o_.self_exe.string(), "-q", "run", slice.string(), "-o", out.string(), "--json", "--restart"};
  if (o_.endpoints.empty()) {
    argv.insert(argv.end(), {"--parallel", std::to_string(knob), "--lanes", std::to_string(lanes)});
    if (ctx_tokens) argv.insert(argv.end(), {"--ctx", std::to_string(*ctx_tokens)});
  } else {
    for (const auto& e : o_.endpoints) argv.insert(argv.end(), {"--endpoint", e});
    argv.insert(argv.end(), {"--max-concurrency", std::to_string(knob)});
  }
  argv.insert(argv.end(), o_.engine_args.begin(), o_.engine_args.end());
  ChildOptions child{argv, o_.memory_limit_bytes, 0.05, o_.timeout_s};
  const bool warm = std::find(warmed_lanes_.begin(), warmed_lanes_.end(), lanes) != warmed_lanes_.end();
  if (!warm && o_.endpoints.empty()) {
    warmed_lanes_.push_back(lanes);
    if (write_slice(slice, std::min<int64_t>(2, static_cast<int64_t>(lines_.size())))) (void)run_child(child);
  }
  if (auto st = write_slice(slice, slice_requests(knob)); !st) {
    t.outcome = TrialOutcome::kFailed;
    t.why = st.error().message;
    return t;
  }
  const double busy0 = machine_busy_s(), mine0 = children_cpu_s();
  auto r = run_child(child);
  const double busy1 = machine_busy_s(), mine1 = children_cpu_s();
  std::error_code ec;
  for (const auto& p : {slice, out, std::filesystem::path(out.string() + ".state.db"),
                        std::filesystem::path(out.string() + ".state.db-wal"),
                        std::filesystem::path(out.string() + ".state.db-shm"), o_.work_dir / ("out-" + tag + ".errors.jsonl")}) {
    std::filesystem::remove(p, ec);
  }
  if (!r) {
    t.outcome = TrialOutcome::kFailed;
    t.why = r.error().message;
    return t;
  }
  auto report = trial_from_run_report(r->out);
  if (report) {
    report->knob = knob;
    report->lanes = lanes;
    if (report->memory_source == "rss") report->peak_memory_bytes = std::max(report->peak_memory_bytes, r->peak_rss_bytes);
    t = *report;
  }
  // run exits 1 when some requests failed: its report says which (out of memory or not).
  const bool reported = report && r->signal == 0 && !r->over_memory_limit && !r->timed_out && r->exit_code <= 1;
  if (!reported) classify_child_end(*r, t);
  if (t.outcome == TrialOutcome::kMeasured && t.items == 0) {
    t.outcome = TrialOutcome::kFailed;
    t.why = "no report from the trial: " + last_line(r->err);
  }
  t.trial_s = r->wall_s;
  if (busy0 >= 0 && busy1 >= busy0 && r->wall_s > 0) {
    t.others_cpu_cores = std::max(0.0, (busy1 - busy0) - (mine1 - mine0)) / r->wall_s;
  }
  return t;
}

Expected<std::pair<double, double>> parse_items_seconds(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::optional<std::pair<double, double>> found;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("items") && j["items"].is_number() && j.contains("seconds") && j["seconds"].is_number()) {
      found = {j["items"].get<double>(), j["seconds"].get<double>()};
    }
  }
  if (!found) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the program printed no line {\"items\": N, \"seconds\": S} on stdout (docs/tune.md)");
  }
  if (found->first <= 0 || found->second <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "the program's items and seconds must both be > 0");
  }
  return *found;
}

Trial run_command_trial(const CommandTrialOptions& o, int64_t batch) {
  Trial t;
  t.knob = batch;
  const std::string command = replace_all(o.command, "{batch}", std::to_string(batch));
  auto r = run_child(ChildOptions{{"/bin/sh", "-c", command}, o.memory_limit_bytes, 0.02, o.timeout_s});
  if (!r) {
    t.outcome = TrialOutcome::kFailed;
    t.why = r.error().message;
    return t;
  }
  t.peak_memory_bytes = r->peak_gpu_process_memory_bytes.value_or(r->peak_gpu_memory_bytes.value_or(r->peak_rss_bytes));
  t.memory_source = r->peak_gpu_process_memory_bytes ? "gpu process" : r->peak_gpu_memory_bytes ? "gpu device" : "rss";
  classify_child_end(*r, t);
  if (t.outcome != TrialOutcome::kMeasured) return t;
  auto items = parse_items_seconds(r->out);
  if (!items) {
    t.outcome = TrialOutcome::kFailed;
    t.why = items.error().message;
    return t;
  }
  t.items = static_cast<int64_t>(items->first);
  t.wall_s = items->second;
  t.items_per_s = items->first / items->second;
  // A batch program's latency is the time of one batch: every item waits for the whole batch.
  const double batch_ms = 1000.0 * items->second * static_cast<double>(batch) / items->first;
  t.total = {batch_ms, batch_ms, batch_ms};
  return t;
}

}  // namespace batchwise
