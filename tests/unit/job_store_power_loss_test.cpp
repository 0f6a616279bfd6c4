// JobStore under power loss, not only kill -9: PowerLossVfs (a test double, tests/support/) drops every
// write not yet fsynced when the "power" goes. At seeded points in a job's life (its creation, group
// commits, a close's checkpoint, a reopen) the power goes; the state is reopened as the next run
// would reopen it, and the job resumes to completion. Asserted per cut: every result acknowledged
// before it (counted done by committed(), or confirmed by flush()) is still there with its body and is
// not run again; at the end every line is stored exactly once and the database is intact.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "job/job_store.h"
#include "power_loss_vfs.h"
#include "test_support.h"

namespace batchwise {
namespace {

constexpr int kRequests = 120;
constexpr int kTrials = 24;
constexpr uint32_t kSeed = 20261202;

ResultRecord record_for(int64_t line) {
  ResultRecord r;
  r.line = line;
  r.custom_id = "r" + std::to_string(line);
  r.ok = line % 7 != 3;
  r.status_code = r.ok ? 200 : 500;
  // A body of a few hundred bytes, different per line: a torn or lost page shows as a wrong body.
  r.body = r.ok ? R"({"choices":[{"message":{"content":")" + std::string(200 + line % 300, 'a' + line % 26) + R"("}}]})"
                : "";
  r.error_code = r.ok ? "" : "server_error";
  r.attempts = 1;
  r.completion_tokens = line;
  return r;
}

struct Outcome {
  int64_t acknowledged = 0;  // lines 0..acknowledged-1 were acknowledged before the power went
  int64_t lost = 0;          // acknowledged, missing after the cut
  int64_t redone = 0;        // acknowledged, yet handed out to run again
  bool power_went = false;
};

// One job's life through the shim, in sessions (open, run some lines, close) chosen by `rng`, with the
// power going at the cut_at-th disk operation (0: never). After a cut the state is restored to what was
// synced and the job resumes until every line is stored. Lines are appended in order by one thread, so
// the first committed() results of a session are exactly the lines it acknowledged.
Outcome run_job(const std::filesystem::path& state, std::mt19937& rng, int64_t cut_at, int64_t* operations) {
  auto& vfs = test::PowerLossVfs::install();
  vfs.arm(cut_at);
  Outcome out;
  std::set<int64_t> acknowledged;
  int sessions = 0;
  while (true) {
    if (++sessions > 50) {
      ADD_FAILURE() << "the job did not finish in 50 sessions";
      return out;
    }
    bool done = false;
    {
      StoreOptions options;
      options.group_ms = 1;
      options.group_size = std::uniform_int_distribution<int>(1, 40)(rng);
      options.vfs = test::PowerLossVfs::kName;
      auto store = JobStore::open(state, options);
      if (store) {
        JobStore& s = **store;
        auto job = s.job();
        std::vector<int64_t> todo;
        bool usable = static_cast<bool>(job);
        if (usable && !job->has_value()) {
          JobMeta meta;
          meta.requests = kRequests;
          usable = static_cast<bool>(s.create_job(meta, {}));
        }
        auto finished = usable ? s.finished_lines() : Expected<std::unordered_set<int64_t>>(std::unordered_set<int64_t>{});
        usable = usable && static_cast<bool>(finished);
        if (usable) {
          for (int64_t line : acknowledged) {
            if (!finished->contains(line)) ++out.lost;
          }
          for (int64_t line = 0; line < kRequests; ++line) {
            if (finished->contains(line)) continue;
            todo.push_back(line);
            if (acknowledged.contains(line)) ++out.redone;  // handed out to run a second time
          }
          done = todo.empty();
          // This session runs a random share of what is left, flushing after every few lines.
          const size_t stop_after = std::uniform_int_distribution<size_t>(1, todo.size() + 10)(rng);
          std::vector<int64_t> appended;
          for (size_t i = 0; i < todo.size() && i < stop_after; ++i) {
            s.append(record_for(todo[i]));
            appended.push_back(todo[i]);
            if (std::uniform_int_distribution<int>(0, 5)(rng) == 0 && !s.flush()) break;
          }
          (void)s.flush();
          const int64_t counted = s.committed();
          for (int64_t i = 0; i < counted && i < static_cast<int64_t>(appended.size()); ++i) {
            acknowledged.insert(appended[static_cast<size_t>(i)]);
          }
        }
      }
    }  // closing: a clean close checkpoints the WAL into the database, through the shim too
    if (vfs.power_lost()) {
      out.power_went = true;
      out.acknowledged = static_cast<int64_t>(acknowledged.size());
      vfs.restore_to_last_sync();
      continue;
    }
    if (done) break;
  }
  if (operations) *operations = vfs.operations();
  if (!out.power_went) out.acknowledged = static_cast<int64_t>(acknowledged.size());
  return out;
}

// What the output would be written from: every stored result, checked line by line.
void expect_complete_and_intact(const std::filesystem::path& state) {
  {
    auto store = JobStore::open(state);
    ASSERT_TRUE(store) << store.error().message;
    std::vector<int> seen(kRequests, 0);
    ASSERT_TRUE((*store)->for_each_result([&](const ResultRecord& r) {
      ASSERT_GE(r.line, 0);
      ASSERT_LT(r.line, kRequests);
      ++seen[static_cast<size_t>(r.line)];
      const ResultRecord want = record_for(r.line);
      EXPECT_EQ(r.custom_id, want.custom_id);
      EXPECT_EQ(r.body, want.body) << "line " << r.line;
      EXPECT_EQ(r.ok, want.ok);
    }));
    for (int line = 0; line < kRequests; ++line) EXPECT_EQ(seen[static_cast<size_t>(line)], 1) << "line " << line;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(state.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* check = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &check, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(check), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check, 0)), "ok");
  sqlite3_finalize(check);
  sqlite3_close(db);
}

TEST(JobStorePowerLoss, EveryAcknowledgedResultSurvivesAPowerCutAndTheJobResumesToCompletion) {
  const auto dir = test::scratch_dir();
  int cuts = 0, passed = 0;
  int64_t lost = 0, redone = 0, acknowledged = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    // The same seeded life twice: once to count its disk operations, once with the power going at a
    // point drawn from them.
    int64_t operations = 0;
    std::mt19937 dry_rng(kSeed + trial);
    run_job(dir / ("dry-" + std::to_string(trial) + ".db"), dry_rng, 0, &operations);
    ASSERT_GT(operations, 0);
    std::mt19937 pick(kSeed * 31 + trial);
    const int64_t cut_at = std::uniform_int_distribution<int64_t>(1, operations)(pick);
    std::mt19937 rng(kSeed + trial);
    const auto state = dir / ("trial-" + std::to_string(trial) + ".db");
    const Outcome o = run_job(state, rng, cut_at, nullptr);
    SCOPED_TRACE("trial " + std::to_string(trial) + ", power cut at operation " + std::to_string(cut_at) + " of " +
                 std::to_string(operations));
    EXPECT_EQ(o.lost, 0);
    EXPECT_EQ(o.redone, 0);
    expect_complete_and_intact(state);
    cuts += o.power_went ? 1 : 0;
    passed += o.power_went && o.lost == 0 && o.redone == 0 && !HasFailure() ? 1 : 0;
    lost += o.lost;
    redone += o.redone;
    acknowledged += o.acknowledged;
  }
  std::printf("power-loss trials: %d cuts, %d passed, %lld lost, %lld duplicated (run again), "
              "%lld results acknowledged before the cuts\n",
              cuts, passed, static_cast<long long>(lost), static_cast<long long>(redone),
              static_cast<long long>(acknowledged));
  EXPECT_GE(cuts, 20);
}

}  // namespace
}  // namespace batchwise
