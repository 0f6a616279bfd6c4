// SlurmJob: one batch job as a Slurm array, one task per shard, and a merge job after it. The array
// script runs `batchwise run IN -o OUT --shard $SLURM_ARRAY_TASK_ID/N` in every task: each task has
// its own state, so a task that is preempted or requeued (`scontrol requeue`) resumes where it stopped.
// The merge script runs `batchwise merge -o OUT`; submitted with --dependency=afterok on the array, it
// starts once every task has finished. Slurm can start it while a requeued task runs again (afterok took that
// task's first end), so it first waits until squeue lists none of the array's tasks (the array's id comes in
// kArrayJobIdVariable). Text is made here; submit() runs sbatch.
//
// Threads: any; submit() blocks on sbatch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchwise {

// The merge job's environment variable naming the array job whose tasks it waits for.
inline constexpr const char* kArrayJobIdVariable = "BATCHWISE_ARRAY_JOB_ID";

struct SlurmJobOptions {
  std::filesystem::path batchwise;          // the binary every task runs (absolute)
  std::filesystem::path input;              // absolute: tasks start in another folder
  std::filesystem::path output;             // OUT.jsonl, absolute
  int64_t shards = 1;
  std::string run_args;                     // added to each task's `batchwise run` as shell words
  std::vector<std::string> sbatch_args;     // options of the array job (`-- --gres=gpu:1 -p gpu`)
  std::vector<std::string> merge_sbatch_args;  // options of the merge job
};

struct SlurmScripts {
  std::filesystem::path array_path;   // OUT.array.sbatch
  std::filesystem::path merge_path;   // OUT.merge.sbatch
  std::string array;
  std::string merge;
};

SlurmScripts slurm_scripts(const SlurmJobOptions& options);

// sbatch options as #SBATCH lines: an option and the values after it ("-p", "gpu") share a line.
std::vector<std::string> sbatch_lines(const std::vector<std::string>& args);

struct SubmittedJob {
  std::string array_job_id;
  std::string merge_job_id;
};

// Writes nothing; runs `sbatch --parsable` on the array script, then on the merge script with
// --dependency=afterok:<array id> and kArrayJobIdVariable=<array id> in its environment. An sbatch that
// fails is reported with what it printed.
Expected<SubmittedJob> submit_slurm_job(const SlurmScripts& scripts);

}  // namespace batchwise
