// ShardSet on real SQLite states: which shards are there, which are missing, and that a state written
// before shards existed still reads (as the whole job, 0/1).
#include "job/shard_set.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace batchwise {
namespace {

void make_state(const std::filesystem::path& path, Shard shard, int64_t requests, const std::string& hash = "h1") {
  auto store = JobStore::open(path);
  ASSERT_TRUE(store) << store.error().message;
  JobMeta meta{.input_path = "/in.jsonl", .input_hash = hash, .requests = requests, .created_at = 1,
               .shard = shard, .input_lines = 40};
  ASSERT_TRUE((*store)->create_job(meta, {}));
}

TEST(ShardSet, NamesTheMissingShardsAndFindsOnlyTheAskedN) {
  const auto dir = test::scratch_dir();
  make_state(dir / "out.shard-0-of-4.state.db", {0, 4}, 10);
  make_state(dir / "out.shard-2-of-4.state.db", {2, 4}, 10);
  make_state(dir / "out.shard-0-of-3.state.db", {0, 3}, 10);  // an older split in the same folder
  EXPECT_EQ(find_shard_states(dir / "out.jsonl").size(), 3u);
  const auto states = find_shard_states(dir / "out.jsonl", 4);
  ASSERT_EQ(states.size(), 2u);
  auto set = open_shard_set(states);
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->count, 4);
  EXPECT_EQ(set->missing, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(set->output, dir / "out.jsonl");
  EXPECT_EQ(shard_run_hint(*set, 1), "batchwise run /in.jsonl -o " + (dir / "out.jsonl").string() + " --shard 1/4");
  EXPECT_FALSE(set->shards[0].complete());  // 10 requests, none finished

  auto mixed = open_shard_set(find_shard_states(dir / "out.jsonl"));
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().message.find("must use the same N"), std::string::npos) << mixed.error().message;
}

// A run creates its state a moment before it records its job: a report over every shard's state then (Slurm's
// tasks starting) shows that shard as starting instead of failing; a set of such states alone still says so.
TEST(ShardSet, AStateWithNoJobYetIsAShardStartingNotAnError) {
  const auto dir = test::scratch_dir();
  make_state(dir / "out.shard-0-of-2.state.db", {0, 2}, 10);
  ASSERT_TRUE(JobStore::open(dir / "out.shard-1-of-2.state.db"));  // created, no job yet
  auto set = open_shard_set(find_shard_states(dir / "out.jsonl", 2));
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->missing, (std::vector<int64_t>{1}));
  ASSERT_NE(starting_state(*set, 1), nullptr);
  EXPECT_EQ(*starting_state(*set, 1), dir / "out.shard-1-of-2.state.db");
  EXPECT_EQ(starting_state(*set, 0), nullptr);
  auto alone = open_shard_set({dir / "out.shard-1-of-2.state.db"});
  ASSERT_FALSE(alone);
  EXPECT_NE(alone.error().message.find("holds no job yet"), std::string::npos) << alone.error().message;
}

TEST(ShardSet, AStateWrittenBeforeShardsReadsAsTheWholeJob) {
  const auto dir = test::scratch_dir();
  make_state(dir / "old.state.db", {1, 4}, 10);
  // What batchwise wrote before shards: the meta table without their keys.
  const auto r = test::run_shell("sqlite3 " + test::shell_quote((dir / "old.state.db").string()) +
                                 " \"DELETE FROM meta WHERE key IN ('shard_index', 'shard_count', 'input_lines')\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto store = JobStore::open(dir / "old.state.db");
  ASSERT_TRUE(store);
  auto meta = (*store)->job();
  ASSERT_TRUE(meta && *meta) << (meta ? "no job" : meta.error().message);
  EXPECT_EQ((*meta)->shard, (Shard{0, 1}));
  EXPECT_EQ((*meta)->input_lines, 0);
  EXPECT_EQ((*meta)->requests, 10);
}

}  // namespace
}  // namespace batchwise
