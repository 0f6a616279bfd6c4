// `batchwise slurm` on a real one-node Slurm cluster (Debian's slurm-wlm and munge, started in a
// scratch folder by tests/integration/slurm/local_cluster.sh and stopped after): a 400-request job in
// 4 array tasks, one task requeued while it runs, then the merge job. Skipped, with the reason, only
// where Slurm cannot start (not root, packages missing).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "test_support.h"

namespace batchwise::test {
namespace {

const std::filesystem::path kClusterScript =
    std::filesystem::path(BATCHWISE_SOURCE_DIR) / "tests/integration/slurm/local_cluster.sh";

class Slurm : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::filesystem::path(BATCHWISE_TEST_TMP) / "slurm-cluster";
    const auto started = run_shell(shell_quote(kClusterScript.string()) + " start " + shell_quote(cluster_.string()));
    if (started.exit_code == 77) GTEST_SKIP() << started.err;
    ASSERT_EQ(started.exit_code, 0) << started.err;
    ::setenv("SLURM_CONF", (cluster_ / "slurm.conf").c_str(), 1);
    running_ = true;
  }
  void TearDown() override {
    if (running_) run_shell(shell_quote(kClusterScript.string()) + " stop " + shell_quote(cluster_.string()));
  }
  std::filesystem::path cluster_;
  bool running_ = false;
};

std::string shell_out(const std::string& command) {
  auto r = run_shell(command);
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

// A count from the task's state, read while the task writes it (WAL: readers wait out a busy moment
// rather than read nothing). -1 where it cannot be read: while polling (`polling`) that only means "not
// yet" (no file or no tables so far); otherwise it is the test's failure, with sqlite3's reason.
int64_t sql_count(const std::filesystem::path& db, const std::string& query, bool polling = false) {
  if (!std::filesystem::exists(db)) return -1;
  const auto r = run_shell("sqlite3 -cmd '.timeout 5000' " + shell_quote(db.string()) + " " + shell_quote(query));
  if (r.exit_code != 0 || r.out.empty()) {
    if (polling) return -1;
    ADD_FAILURE() << "sqlite3 on " << db << ": " << r.err;
    return -1;
  }
  return std::stoll(r.out);
}

// Polls `done` every 50 ms for up to `limit_s`; true when it held.
template <class F>
bool wait_for(double limit_s, F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST_F(Slurm, FourArrayTasksOneRequeuedMidwayMergeToEveryIdExactlyOnce) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  const auto in = dir / "in.jsonl";
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "400", "--prefix-tokens", "40", "--unique-tokens", "10",
                           "--output-tokens", "24", "-o", in.string()})
                .exit_code,
            0);
  const auto out = dir / "out.jsonl";
  // One sequence and one thread per task, 24 tokens a request: several seconds of work each on 2 cores, long enough
  // to requeue one mid-way even when scontrol is slow to act (with 8 tokens a loaded machine once saw task 1 finish
  // its 100 lines before the requeue reached it).
  const auto submitted = run_batchwise({"slurm", in.string(), "-o", out.string(), "--shards", "4", "--run-args",
                                        "-p 1 -t 1", "--submit", "--json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const auto ids = nlohmann::json::parse(submitted.out);
  const std::string array = ids["array_job_id"], merge = ids["merge_job_id"];
  const std::string task1 = array + "_1";

  // Task 1 is requeued (SIGTERM, then SIGKILL) as soon as its first results are durable.
  const auto state1 = dir / "out.shard-1-of-4.state.db";
  ASSERT_TRUE(wait_for(60, [&] { return sql_count(state1, "SELECT count(*) FROM results", true) > 0; }))
      << "task 1 never committed a result; " << shell_out("squeue; tail -5 " + shell_quote(cluster_.string()) + "/slurmctld.log");
  ASSERT_EQ(run_shell("scontrol requeue " + task1).exit_code, 0);
  ASSERT_TRUE(wait_for(30, [&] { return shell_out("squeue -h -j " + task1 + " -o %T") == "PENDING"; }));
  const int64_t shard1_lines = sql_count(state1, "SELECT value FROM meta WHERE key = 'requests'");
  const int64_t done_when_killed = sql_count(state1, "SELECT count(*) FROM results");
  EXPECT_GT(done_when_killed, 0);
  EXPECT_LT(done_when_killed, shard1_lines) << "task 1 finished before the requeue reached it";
  // Slurm holds a requeued job back for a while (its begin time moves ~2 minutes on): let it go now.
  ASSERT_EQ(run_shell("scontrol update JobId=" + task1 + " StartTime=now").exit_code, 0);

  // The whole job's progress from the shards' states, while it runs (a task whose run has not yet recorded its job
  // counts as a shard starting; a report over no job at all would be refused, hence the wait).
  ASSERT_TRUE(wait_for(60, [&] { return std::filesystem::exists(dir / "out.shard-3-of-4.state.db"); }));
  CommandResult progress;
  ASSERT_TRUE(wait_for(30, [&] {
    progress = run_shell(batchwise_bin() + " report --json " + shell_quote(dir.string()) + "/out.shard-*-of-4.state.db");
    return progress.exit_code == 0;
  })) << progress.err;
  EXPECT_EQ(nlohmann::json::parse(progress.out)["requests"], 400);

  ASSERT_TRUE(wait_for(150, [&] { return shell_out("squeue -h -j " + merge + " -o %T").empty(); }))
      << shell_out("squeue");
  EXPECT_NE(shell_out("scontrol show job " + merge).find("JobState=COMPLETED"), std::string::npos)
      << shell_out("cat " + shell_quote(dir.string()) + "/out.merge.slurm.log");
  // The requeued task ran again from its state, not from the start.
  EXPECT_NE(shell_out("cat " + shell_quote((dir / "out.shard-1-of-4.slurm.log").string())).find("resuming"),
            std::string::npos);

  std::set<std::string> expected;
  for (const auto& l : read_jsonl(in)) expected.insert(l["custom_id"]);
  const auto merged = read_jsonl(out);
  const auto counts = custom_id_counts(merged);
  std::set<std::string> seen;
  for (const auto& [id, n] : counts) {
    EXPECT_EQ(n, 1) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(merged.size(), 400u);
  EXPECT_TRUE(read_jsonl(dir / "out.errors.jsonl").empty());

  const auto whole = run_batchwise({"-q", "run", in.string(), "-o", (dir / "whole.jsonl").string(), "-p", "8"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(usage_by_id(out), usage_by_id(dir / "whole.jsonl"));
}

// Issue 29: `slurm -o missing/out.jsonl` failed with "cannot create …/out.array.sbatch.tmp". It names the
// folder and the mkdir that makes it, writes nothing, and exits 2. Needs no cluster: it stops before sbatch.
TEST(SlurmScripts, AnOutputFolderThatDoesNotExistIsNamedWithTheMkdirThatMakesIt) {
  const auto dir = scratch_dir();
  write_text(dir / "in.jsonl", "{}\n");
  const auto missing = dir / "results" / "run1";
  const auto r = run_batchwise({"slurm", (dir / "in.jsonl").string(), "-o", (missing / "out.jsonl").string(),
                                "--shards", "2", "--submit"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("the folder " + missing.string() + " does not exist"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mkdir -p " + missing.string()), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(".tmp"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "results"));

  std::filesystem::create_directories(missing);
  const auto written = run_batchwise({"slurm", (dir / "in.jsonl").string(), "-o", (missing / "out.jsonl").string(),
                                      "--shards", "2"});
  EXPECT_EQ(written.exit_code, 0) << written.err;
  EXPECT_TRUE(std::filesystem::exists(missing / "out.array.sbatch"));
}

}  // namespace
}  // namespace batchwise::test
