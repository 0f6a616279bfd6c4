// `batchwise report STATE`: the report of a job at any time, from its state database.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "job/batch_output.h"
#include "job/job_store.h"
#include "job/report.h"
#include "job/shard_set.h"

namespace batchwise {
namespace {

// The whole job's progress over its shards' states: one line per shard, then the report of them all.
int report_shards(const std::vector<std::string>& paths, bool json) {
  std::vector<std::filesystem::path> states(paths.begin(), paths.end());
  auto set = open_shard_set(states);
  if (!set) return report_error(set.error());
  std::vector<JobStore*> stores;
  int64_t lines = 0;
  for (const ShardState& s : set->shards) {
    stores.push_back(s.store.get());
    lines += s.lines;
  }
  // The whole input's lines, so that shards not started yet count as pending.
  auto report = build_report(stores, set->input_lines > 0 ? set->input_lines : lines);
  if (!report) return report_error(report.error());
  if (json) {
    nlohmann::json j = report_json(*report);
    nlohmann::json shards = nlohmann::json::array();
    for (const ShardState& s : set->shards) {
      shards.push_back({{"shard", shard_name(s.meta.shard)}, {"state", s.path.string()}, {"requests", s.lines},
                        {"finished", s.finished}, {"complete", s.complete()}});
    }
    j["shards"] = shards;
    nlohmann::json missing = nlohmann::json::array();
    for (int64_t index : set->missing) missing.push_back(shard_name({index, set->count}));
    j["missing_shards"] = missing;
    nlohmann::json starting = nlohmann::json::array();
    for (const auto& path : set->starting) starting.push_back(path.string());
    j["starting_states"] = starting;
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("job: %s in %lld shards", set->input_path.c_str(), static_cast<long long>(set->count));
  if (!set->missing.empty()) {
    std::printf(" (%zu with no state given: not complete)", set->missing.size());
  }
  std::printf("\n");
  for (const ShardState& s : set->shards) {
    std::printf("  shard %s: %lld of %lld finished%s  %s\n", shard_name(s.meta.shard).c_str(),
                static_cast<long long>(s.finished), static_cast<long long>(s.lines), s.complete() ? " (done)" : "",
                s.path.string().c_str());
  }
  for (int64_t index : set->missing) {
    if (const auto* starting = starting_state(*set, index)) {
      std::printf("  shard %s: no job recorded yet (its run is starting, or stopped before it began)  %s\n",
                  shard_name({index, set->count}).c_str(), starting->string().c_str());
    } else {
      std::printf("  shard %s: no state given (not started?): %s\n", shard_name({index, set->count}).c_str(),
                  shard_run_hint(*set, index).c_str());
    }
  }
  std::printf("%s", report_text(*report).c_str());
  return kExitOk;
}

// One state: the job's report, or for a shard's state the whole job's (see report_shards).
int report_state(const std::string& state, const std::string& export_to, bool json) {
  auto store = JobStore::open(state);
  if (!store) return report_error(store.error());
  auto meta = (*store)->job();
  if (!meta) return report_error(meta.error());
  if (!*meta) return report_error(Error{ErrorCode::kNotFound, state + " holds no job yet"});
  auto report = build_report(**store, **meta);
  if (!report) return report_error(report.error());
  const bool shard = (*meta)->shard.sharded();
  if (!export_to.empty()) {
    auto written = write_output_files(**store, export_to, default_error_path(export_to));
    if (!written) return report_error(written.error());
    std::string note;
    if (report->pending > 0) {
      note = " (partial: the job is not done)";
    } else if (shard) {
      note = " (shard " + shard_name((*meta)->shard) + " only; `batchwise merge` joins the shards)";
    }
    std::fprintf(stderr, "batchwise: exported %lld results to %s and %lld errors to %s%s\n", (long long)written->ok,
                 export_to.c_str(), (long long)written->failed, default_error_path(export_to).c_str(), note.c_str());
  }
  // A shard's state alone (a shell glob that matched only the shards present) is reported as the whole
  // job it belongs to: on its own it read "17 ok, 0 pending (of 17)", a job that looked done while the
  // other shards had not run.
  if (shard) {
    store->reset();  // report_shards opens it again
    return report_shards({state}, json);
  }
  if (json) {
    std::printf("%s\n", report_json(*report).dump(2).c_str());
  } else {
    std::printf("job: %s\n%s", (*meta)->input_path.c_str(), report_text(*report).c_str());
  }
  return kExitOk;
}

}  // namespace

Verb add_report_command(CLI::App& app) {
  struct Flags {
    std::vector<std::string> states;
    std::string export_to;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  auto* sub = app.add_subcommand("report", "report on a job from its state database, during or after a run");
  sub->add_option("state", f->states,
                  "the job's state database (OUT.state.db), or its shards' (OUT.shard-*-of-*.state.db) for the "
                  "whole job's progress, naming the shards not given")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_flag("--json", f->json, "print JSON");
  sub->add_option("--export", f->export_to,
                  "also write the results committed so far to FILE (OpenAI batch output lines) and the failures "
                  "to FILE's .errors.jsonl, even while the job runs or after it stopped");
  return {sub, [f] {
            if (f->states.size() > 1) {
              if (!f->export_to.empty()) {
                return report_error({ErrorCode::kInvalidArgument,
                                     "--export takes one state; for shards, `batchwise merge` joins finished ones"});
              }
              return report_shards(f->states, f->json);
            }
            return report_state(f->states.front(), f->export_to, f->json);
          }};
}

}  // namespace batchwise
