// `batchwise slurm IN -o OUT --shards N [--submit] [-- sbatch options...]`: one job as a Slurm array
// (a task per shard) and a merge job after it.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/output_guard.h"
#include "core/files.h"
#include "core/log.h"
#include "job/shard.h"
#include "job/slurm_job.h"

namespace batchwise {

Verb add_slurm_command(CLI::App& app) {
  struct Flags {
    std::string input;
    std::string output;
    SlurmJobOptions job;
    bool submit = false;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  auto* sub = app.add_subcommand("slurm", "write (and submit) a Slurm array job, one task per shard, and its merge job");
  sub->footer(
      "Writes OUT.array.sbatch (task I runs `batchwise run IN -o OUT --shard I/N`; a requeued task resumes from\n"
      "its state) and OUT.merge.sbatch (`batchwise merge`). With --submit it runs sbatch on both, the merge with\n"
      "--dependency=afterok on the array, and prints the two job ids. Options after `--` go to the array job:\n"
      "  batchwise slurm in.jsonl -o out.jsonl --shards 8 --run-args '-m /models/m.gguf' --submit -- --gres=gpu:1\n"
      "Progress of the whole job: batchwise report OUT.shard-*-of-N.state.db. See docs/slurm.md.");
  sub->add_option("input", f->input, "batch input JSONL, on a file system every node sees")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("-o,--output", f->output, "merged output JSONL; shards, states and logs are named after it")
      ->required();
  sub->add_option("--shards", f->job.shards, "N: array tasks, each runs one shard")
      ->required()
      ->check(CLI::Range(int64_t{1}, kMaxShards));
  sub->add_option("--run-args", f->job.run_args,
                  "more arguments for each task's `batchwise run`, written into the script as shell words, so "
                  "$SLURM_ARRAY_TASK_ID expands per task (e.g. '-m /models/m.gguf' or "
                  "'--endpoint http://node$SLURM_ARRAY_TASK_ID:8000'; default: none)");
  sub->add_option("--merge-sbatch", f->job.merge_sbatch_args,
                  "an sbatch option for the merge job (repeatable; default: none, the cluster's defaults)");
  sub->add_flag("--submit", f->submit, "run sbatch on both scripts and print the job ids (default: only write them)");
  sub->add_flag("--json", f->json, "print the scripts' paths and job ids as JSON on stdout");
  sub->add_option("sbatch", f->job.sbatch_args, "sbatch options for the array job, after `--`");
  return {sub, [f] {
            std::error_code ec;
            f->job.batchwise = std::filesystem::read_symlink("/proc/self/exe", ec);
            if (ec) f->job.batchwise = "batchwise";
            f->job.input = std::filesystem::absolute(f->input);
            f->job.output = std::filesystem::absolute(f->output);
            // Refused, not created: the folder must be on a file system every node sees, and a typo or a
            // node-local path made here would only fail later, on the nodes, where Slurm's logs (in
            // that folder too) cannot be written. A mkdir costs the user one command; nothing is written.
            if (auto st = require_output_folder(f->output, "-o"); !st) return report_error(st.error());
            const SlurmScripts scripts = slurm_scripts(f->job);
            if (auto st = write_file_atomic(scripts.array_path, scripts.array); !st) return report_error(st.error());
            if (auto st = write_file_atomic(scripts.merge_path, scripts.merge); !st) return report_error(st.error());
            log_info("wrote " + scripts.array_path.string() + " and " + scripts.merge_path.string());
            nlohmann::json j = {{"array_script", scripts.array_path.string()},
                                {"merge_script", scripts.merge_path.string()}};
            if (!f->submit) {
              if (!f->json) {
                std::printf("submit with:\n  array=$(sbatch --parsable %s)\n  sbatch --dependency=afterok:$array "
                            "--export=ALL,%s=$array %s\n",
                            scripts.array_path.c_str(), kArrayJobIdVariable, scripts.merge_path.c_str());
              }
            } else {
              auto submitted = submit_slurm_job(scripts);
              if (!submitted) return report_error(submitted.error());
              j["array_job_id"] = submitted->array_job_id;
              j["merge_job_id"] = submitted->merge_job_id;
              if (!f->json) {
                std::printf("array job %s (%lld tasks), merge job %s\n", submitted->array_job_id.c_str(),
                            static_cast<long long>(f->job.shards), submitted->merge_job_id.c_str());
              }
            }
            if (f->json) std::printf("%s\n", j.dump(2).c_str());
            return kExitOk;
          }};
}

}  // namespace batchwise
