// The Slurm scripts `batchwise slurm` writes: what each array task and the merge job run.
#include "job/slurm_job.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

SlurmJobOptions options() {
  SlurmJobOptions o;
  o.batchwise = "/opt/bw/batchwise";
  o.input = "/data/in put.jsonl";
  o.output = "/data/out.jsonl";
  o.shards = 8;
  o.run_args = "--endpoint http://node$SLURM_ARRAY_TASK_ID:8000";
  o.sbatch_args = {"-p", "gpu", "--gres=gpu:1"};
  o.merge_sbatch_args = {"--time=10"};
  return o;
}

TEST(SlurmJob, ArrayTaskRunsItsShardResumablyAndCountsFailedRequestsAsDone) {
  const SlurmScripts s = slurm_scripts(options());
  EXPECT_EQ(s.array_path, "/data/out.array.sbatch");
  EXPECT_NE(s.array.find("#SBATCH --array=0-7\n"), std::string::npos);
  EXPECT_NE(s.array.find("#SBATCH --requeue\n"), std::string::npos);
  EXPECT_NE(s.array.find("#SBATCH -p gpu\n#SBATCH --gres=gpu:1\n"), std::string::npos);
  EXPECT_NE(s.array.find("'/opt/bw/batchwise' run '/data/in put.jsonl' -o '/data/out.jsonl' "
                         "--shard \"${SLURM_ARRAY_TASK_ID}/8\" --endpoint http://node$SLURM_ARRAY_TASK_ID:8000\n"),
            std::string::npos)
      << s.array;
  EXPECT_NE(s.array.find("if [ \"$rc\" -eq 1 ]; then exit 0; fi"), std::string::npos);
  // #SBATCH lines count only before the first command.
  EXPECT_LT(s.array.rfind("#SBATCH"), s.array.find("'/opt/bw/batchwise'"));
}

TEST(SlurmJob, MergeJobMergesTheOutput) {
  const SlurmScripts s = slurm_scripts(options());
  EXPECT_EQ(s.merge_path, "/data/out.merge.sbatch");
  EXPECT_NE(s.merge.find("#SBATCH --time=10\n"), std::string::npos);
  EXPECT_NE(s.merge.find("'/opt/bw/batchwise' merge -o '/data/out.jsonl' --shards 8\n"), std::string::npos) << s.merge;
  // It merges only once squeue lists none of the array's tasks (a requeued one may still run), and #SBATCH lines
  // count only before the first command.
  const size_t wait = s.merge.find("squeue -h -o %i -j \"$BATCHWISE_ARRAY_JOB_ID\"");
  ASSERT_NE(wait, std::string::npos) << s.merge;
  EXPECT_LT(wait, s.merge.find("' merge -o "));
  EXPECT_LT(s.merge.rfind("#SBATCH"), s.merge.find("if [ -n"));
}

TEST(SlurmJob, SbatchOptionKeepsItsValuesOnItsLine) {
  EXPECT_EQ(sbatch_lines({"-p", "gpu", "-t", "1:00:00", "--exclusive"}),
            (std::vector<std::string>{"#SBATCH -p gpu", "#SBATCH -t 1:00:00", "#SBATCH --exclusive"}));
}

}  // namespace
}  // namespace batchwise
