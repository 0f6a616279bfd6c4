// `run --shard I/N` and `merge` on one machine: the shards of a job, merged, are the job a single run
// does; merge refuses what would lose or double a result, and says what to do.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "test_support.h"

namespace batchwise::test {
namespace {

std::filesystem::path make_input(const std::filesystem::path& dir, const std::string& name, int n, int seed = 1) {
  const auto path = dir / name;
  const auto r = run_batchwise({"gen-workload", "seed", "-n", std::to_string(n), "--prefix-tokens", "40",
                                "--unique-tokens", "10", "--output-tokens", "2", "--seed", std::to_string(seed),
                                "-o", path.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

CommandResult run_shard(const std::filesystem::path& in, const std::filesystem::path& out, const std::string& shard) {
  return run_batchwise({"-q", "run", in.string(), "-o", out.string(), "-p", "16", "--shard", shard});
}

TEST(ShardMerge, ThreeShardsMergedEqualOneRunOfTheWholeInput) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  const auto in = make_input(dir, "in.jsonl", 120);
  std::set<std::string> expected;
  for (const auto& l : read_jsonl(in)) expected.insert(l["custom_id"]);

  size_t shard_lines = 0;
  for (int i = 0; i < 3; ++i) {
    const auto r = run_shard(in, dir / "out.jsonl", std::to_string(i) + "/3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto part = dir / ("out.shard-" + std::to_string(i) + "-of-3.jsonl");
    ASSERT_TRUE(std::filesystem::exists(part));
    EXPECT_TRUE(std::filesystem::exists(dir / ("out.shard-" + std::to_string(i) + "-of-3.state.db")));
    shard_lines += read_jsonl(part).size();
  }
  EXPECT_EQ(shard_lines, expected.size());
  const auto report = run_batchwise({"report", "--json", (dir / "out.shard-0-of-3.state.db").string(),
                                     (dir / "out.shard-1-of-3.state.db").string(),
                                     (dir / "out.shard-2-of-3.state.db").string()});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const auto rj = nlohmann::json::parse(report.out);
  EXPECT_EQ(rj["ok"], 120);
  EXPECT_EQ(rj["pending"], 0);
  EXPECT_EQ(rj["shards"].size(), 3u);

  const auto merged = run_batchwise({"merge", "-o", (dir / "out.jsonl").string()});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  const auto whole = run_batchwise({"-q", "run", in.string(), "-o", (dir / "whole.jsonl").string(), "-p", "16"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const auto merged_usage = usage_by_id(dir / "out.jsonl");
  std::set<std::string> merged_ids;
  for (const auto& [id, u] : merged_usage) merged_ids.insert(id);
  EXPECT_EQ(merged_ids, expected);
  EXPECT_EQ(merged_usage, usage_by_id(dir / "whole.jsonl"));
  // In input order, as one run writes it.
  std::vector<std::string> merged_order, whole_order;
  for (const auto& l : read_jsonl(dir / "out.jsonl")) merged_order.push_back(l["id"]);
  for (const auto& l : read_jsonl(dir / "whole.jsonl")) whole_order.push_back(l["id"]);
  EXPECT_EQ(merged_order, whole_order);
}

TEST(ShardMerge, RefusesAMissingAnUnfinishedAForeignShardAndAnIdInTwoShards) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  const auto in = make_input(dir, "in.jsonl", 60);
  const auto other = make_input(dir, "other.jsonl", 60, /*seed=*/2);
  ASSERT_EQ(run_shard(in, dir / "out.jsonl", "0/2").exit_code, 0);
  const auto state0 = dir / "out.shard-0-of-2.state.db";
  const auto state1 = dir / "out.shard-1-of-2.state.db";

  auto missing = run_batchwise({"merge", "-o", (dir / "out.jsonl").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("shard 1/2 of this job has no state"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("--shard 1/2"), std::string::npos) << missing.err;  // the command that makes it
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));

  // Shard 1 of another input, its state put where this job's shard 1 goes.
  ASSERT_EQ(run_shard(other, dir / "o.jsonl", "1/2").exit_code, 0);
  std::filesystem::copy_file(dir / "o.shard-1-of-2.state.db", state1);
  auto foreign = run_batchwise({"merge", "-o", (dir / "out.jsonl").string()});
  EXPECT_EQ(foreign.exit_code, 2);
  EXPECT_NE(foreign.err.find("ran on another input"), std::string::npos) << foreign.err;
  EXPECT_NE(foreign.err.find("other.jsonl"), std::string::npos) << foreign.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
  std::filesystem::remove(state1);

  // An unfinished shard 1: killed as soon as it has committed something. Its 30 short requests take under a
  // second, so the run may have stored every result before the kill lands (seen: killed while it wrote its
  // output): then it is started afresh (exit 0 from the shell means a run was killed with results missing).
  const auto killed = run_shell(
      "cd " + shell_quote(dir.string()) + "; for attempt in 1 2 3 4 5; do rm -f out.shard-1-of-2.*; " +
      batchwise_bin() + " -q run " + shell_quote(in.string()) + " -o out.jsonl -p 1 --shard 1/2 & pid=$!; "
      "for i in $(seq 200); do n=$(sqlite3 " + shell_quote(state1.string()) +
      " 'select count(*) from results' 2>/dev/null || echo 0); [ \"${n:-0}\" -gt 0 ] && break; sleep 0.05; done; "
      "kill -9 $pid; wait $pid && continue; all=$(sqlite3 " + shell_quote(state1.string()) +
      " \"select (select count(*) from results) >= (select value from meta where key = 'requests')\"); "
      "[ \"$all\" = 1 ] && continue; exit 0; done; exit 1");
  ASSERT_EQ(killed.exit_code, 0) << "shard 1 finished before it could be killed, five times";
  ASSERT_TRUE(std::filesystem::exists(state1));
  auto unfinished = run_batchwise({"merge", "-o", (dir / "out.jsonl").string()});
  EXPECT_EQ(unfinished.exit_code, 2);
  EXPECT_NE(unfinished.err.find("shard 1/2"), std::string::npos) << unfinished.err;
  EXPECT_NE(unfinished.err.find("is not finished"), std::string::npos) << unfinished.err;
  EXPECT_NE(unfinished.err.find("again to resume it"), std::string::npos) << unfinished.err;

  // Resumed, it merges.
  ASSERT_EQ(run_shard(in, dir / "out.jsonl", "1/2").exit_code, 0);
  ASSERT_EQ(run_batchwise({"merge", "-o", (dir / "out.jsonl").string()}).exit_code, 0);
  std::filesystem::remove(dir / "out.jsonl");

  // A test double for a fault no run makes: shard 1's state edited to also hold one of shard 0's ids.
  const auto tamper = run_shell(
      "sqlite3 " + shell_quote(state1.string()) + " \"ATTACH " + shell_quote(state0.string()) +
      " AS s0; INSERT INTO results SELECT line + 100000, custom_id, ok, status_code, body, error_code, "
      "error_message, attempts, prompt_tokens, cached_tokens, completion_tokens, queue_ms, ttft_ms, total_ms, "
      "finished_at FROM s0.results LIMIT 1;\"");
  ASSERT_EQ(tamper.exit_code, 0) << tamper.err;
  auto twice = run_batchwise({"merge", "-o", (dir / "out.jsonl").string()});
  EXPECT_EQ(twice.exit_code, 3);
  EXPECT_NE(twice.err.find("has a result in shard 0/2 and in shard 1/2"), std::string::npos) << twice.err;
  EXPECT_NE(twice.err.find("custom_id `"), std::string::npos) << twice.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
}

TEST(ShardMerge, ResumingAStateWithAnotherShardIsRefused) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  const auto in = make_input(dir, "in.jsonl", 20);
  ASSERT_EQ(run_batchwise({"-q", "run", in.string(), "-o", (dir / "a.jsonl").string(), "--shard", "0/2", "--state",
                           (dir / "s.db").string()})
                .exit_code,
            0);
  const auto r = run_batchwise({"-q", "run", in.string(), "-o", (dir / "a.jsonl").string(), "--shard", "1/2",
                                "--state", (dir / "s.db").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("holds shard 0/2 of its input, not 1/2"), std::string::npos) << r.err;
}

// Issue 29: `report out.shard-*-of-3.state.db` while only shard 0 had run (the glob matched one state)
// said "N ok, 0 pending (of N)", as if the whole job were done. It reports the whole job: the missing
// shards named with the command that runs them, their lines pending.
TEST(ShardMerge, ReportOfOneShardsStateNamesTheMissingShardsInsteadOfCallingTheJobDone) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  const auto in = make_input(dir, "in.jsonl", 30);
  ASSERT_EQ(run_shard(in, dir / "out.jsonl", "0/3").exit_code, 0);
  const auto state0 = (dir / "out.shard-0-of-3.state.db").string();

  const auto text = run_batchwise({"report", state0});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("in 3 shards (2 with no state given: not complete)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("shard 1/3: no state given"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("--shard 2/3"), std::string::npos) << text.out;  // the command that runs it
  EXPECT_EQ(text.out.find(" 0 pending"), std::string::npos) << text.out;

  const auto json = run_batchwise({"report", "--json", state0});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["missing_shards"], nlohmann::json::array({"1/3", "2/3"}));
  EXPECT_EQ(j["requests"], 30);
  EXPECT_GT(j["pending"].get<int64_t>(), 0);
  EXPECT_EQ(j["ok"].get<int64_t>() + j["pending"].get<int64_t>(), 30);
}

}  // namespace
}  // namespace batchwise::test
