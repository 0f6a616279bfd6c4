// `batchwise report STATE`: the report of a job at any time, from its state database.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "job/batch_output.h"
#include "job/job_store.h"
#include "job/report.h"

namespace batchwise {

Verb add_report_command(CLI::App& app) {
  struct Flags {
    std::string state;
    std::string export_to;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  auto* sub = app.add_subcommand("report", "report on a job from its state database, during or after a run");
  sub->add_option("state", f->state, "the job's state database (OUT.state.db)")->required()->check(CLI::ExistingFile);
  sub->add_flag("--json", f->json, "print JSON");
  sub->add_option("--export", f->export_to,
                  "also write the results committed so far to FILE (OpenAI batch output lines) and the failures "
                  "to FILE's .errors.jsonl, even while the job runs or after it stopped");
  return {sub, [f] {
            auto store = JobStore::open(f->state);
            if (!store) return report_error(store.error());
            auto meta = (*store)->job();
            if (!meta) return report_error(meta.error());
            if (!*meta) return report_error(Error{ErrorCode::kNotFound, f->state + " holds no job yet"});
            auto report = build_report(**store, **meta);
            if (!report) return report_error(report.error());
            if (!f->export_to.empty()) {
              auto written = write_output_files(**store, f->export_to, default_error_path(f->export_to));
              if (!written) return report_error(written.error());
              std::fprintf(stderr, "batchwise: exported %lld results to %s and %lld errors to %s%s\n",
                           (long long)written->ok, f->export_to.c_str(), (long long)written->failed,
                           default_error_path(f->export_to).c_str(),
                           report->pending > 0 ? " (partial: the job is not done)" : "");
            }
            if (f->json) {
              std::printf("%s\n", report_json(*report).dump(2).c_str());
            } else {
              std::printf("job: %s\n%s", (*meta)->input_path.c_str(), report_text(*report).c_str());
            }
            return kExitOk;
          }};
}

}  // namespace batchwise
