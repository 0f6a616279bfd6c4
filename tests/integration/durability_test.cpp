// Durability of `batchwise run`: a full disk, Ctrl-C, a changed input (kill -9: kill_trials_test.cpp).
// After each, running the same command again must finish the job with every custom_id exactly once.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "test_support.h"

namespace batchwise::test {
namespace {

// A small, fast seed workload: 2,000 requests, short rubric, 4 output tokens.
std::filesystem::path make_input(const std::filesystem::path& dir, int n = 2000) {
  const auto path = dir / "in.jsonl";
  EXPECT_EQ(run_batchwise({"gen-workload", "seed", "-n", std::to_string(n), "--prefix-tokens", "100",
                           "--unique-tokens", "20", "--output-tokens", "4", "-o", path.string()})
                .exit_code,
            0);
  return path;
}

std::string run_line(const std::filesystem::path& in, const std::filesystem::path& out) {
  return batchwise_bin() + " -q run " + shell_quote(in.string()) + " -o " + shell_quote(out.string()) + " -np 32";
}

// Every custom_id of the input appears exactly once in the output, and nothing else does.
void expect_exactly_once(const std::filesystem::path& in, const std::filesystem::path& out) {
  std::set<std::string> expected;
  for (const auto& l : read_jsonl(in)) expected.insert(l["custom_id"]);
  const auto lines = read_jsonl(out);
  const auto counts = custom_id_counts(lines);
  std::set<std::string> seen;
  for (const auto& [id, n] : counts) {
    EXPECT_EQ(n, 1) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(lines.size(), expected.size());
}

// Kill -9 at seeded points, asserting that durable work survives and is not redone: kill_trials_test.cpp.

TEST(Durability, FullDiskGivesAClearErrorAndAResumableState) {
  const auto dir = scratch_dir();
  const auto in = make_input(dir);
  ensure_tiny_model();  // made beforehand: the limit is for the job's files, not the model cache
  const auto full = run_shell("trap '' XFSZ; ulimit -f 400; " + run_line(in, dir / "out.jsonl"));
  EXPECT_EQ(full.exit_code, 3) << full.err;
  EXPECT_NE(full.err.find("disk full"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("resume"), std::string::npos) << full.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
  const auto check = run_shell("sqlite3 " + shell_quote((dir / "out.state.db").string()) + " 'PRAGMA integrity_check'");
  EXPECT_EQ(check.out, "ok\n") << check.err;

  const auto resumed = run_shell(run_line(in, dir / "out.jsonl"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_exactly_once(in, dir / "out.jsonl");
}

TEST(Durability, CtrlCStopsWithinSecondsAndTheSameCommandResumes) {
  const auto dir = scratch_dir();
  const auto in = make_input(dir, 1000);
  // SIGINT goes once results are being committed (a loaded machine may take seconds to get there);
  // the shell prints how many milliseconds the job took to stop after it.
  const std::string db = shell_quote((dir / "out.state.db").string());
  const auto stopped = run_shell(
      run_line(in, dir / "out.jsonl") + " & pid=$!; for i in $(seq 1200); do n=$(sqlite3 " + db +
      " 'select count(*) from results' 2>/dev/null); [ \"${n:-0}\" -gt 0 ] && break; sleep 0.1; done;"
      " t0=$(date +%s%N); kill -INT $pid; wait $pid; rc=$?; echo $(( ($(date +%s%N) - t0) / 1000000 )); exit $rc");
  EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
  EXPECT_LT(std::stod("0" + stopped.out), 6000.0 * kSanitizerSlowdown) << "milliseconds from SIGINT to exit";
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out.partial.jsonl"));  // what it had, to look at
  const auto resumed = run_batchwise({"run", in.string(), "-o", (dir / "out.jsonl").string(), "-np", "32"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("already done"), std::string::npos) << resumed.err;
  expect_exactly_once(in, dir / "out.jsonl");
  // The job is complete: the partial copies are gone (issue 29), only the whole files remain.
  EXPECT_FALSE(std::filesystem::exists(dir / "out.partial.jsonl"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.errors.partial.jsonl"));
}

TEST(Durability, ChangedInputUnderAStateIsRefusedUnlessRestart) {
  const auto dir = scratch_dir();
  const auto in = make_input(dir, 20);
  ASSERT_EQ(run_shell(run_line(in, dir / "out.jsonl")).exit_code, 0);
  write_text(in, read_jsonl(in)[0].dump() + "\n");  // the input changed: one line now
  const auto refused = run_shell(run_line(in, dir / "out.jsonl"));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--restart"), std::string::npos) << refused.err;
  const auto restarted = run_shell(run_line(in, dir / "out.jsonl") + " --restart");
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  EXPECT_EQ(read_jsonl(dir / "out.jsonl").size(), 1u);
}

TEST(Durability, ReportReadsTheStateAtAnyTime) {
  const auto dir = scratch_dir();
  const auto in = make_input(dir, 50);
  ASSERT_EQ(run_shell(run_line(in, dir / "out.jsonl")).exit_code, 0);
  const auto r = run_batchwise({"report", (dir / "out.state.db").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["ok"], 50);
  EXPECT_EQ(report["pending"], 0);
  EXPECT_GT(report["tokens"]["cached"].get<int64_t>(), 0);
}

// A finished job's report gives the time its runs took and their speed (issue 18, item 10), summed
// over the sessions of a resumed job, not the time since it was created.
TEST(Durability, ReportOfAFinishedJobGivesTheTimeItsRunsTookAndTheirSpeed) {
  const auto dir = scratch_dir();
  const auto in = make_input(dir, 40);
  const auto first = run_batchwise({"-q", "run", in.string(), "-o", (dir / "out.jsonl").string(), "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const double run_wall = nlohmann::json::parse(first.out)["wall_s"].get<double>();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // idle time is not the job's
  const auto r = run_batchwise({"report", (dir / "out.state.db").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_NEAR(report["wall_s"].get<double>(), run_wall, 0.05 + 0.02 * run_wall);
  EXPECT_NEAR(report["requests_per_s"].get<double>(), 40.0 / report["wall_s"].get<double>(), 1e-6);
  const auto text = run_batchwise({"report", (dir / "out.state.db").string()});
  EXPECT_NE(text.out.find("speed: "), std::string::npos) << text.out;
}

}  // namespace
}  // namespace batchwise::test
