// JobStore on damaged state: a value that is not a number is an error naming it, never an abort.
#include "job/job_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "test_support.h"

namespace batchwise {
namespace {

// Regression: std::stoll threw on a damaged meta value and `run` died with std::terminate.
TEST(JobStore, ADamagedNumberInTheJobMetaIsACorruptErrorNotAnAbort) {
  const auto path = test::scratch_dir() / "state.db";
  {
    auto store = JobStore::open(path);
    ASSERT_TRUE(store);
    JobMeta meta;
    meta.requests = 3;
    ASSERT_TRUE((*store)->create_job(meta, {}));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 'lots' WHERE key = 'requests'", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = JobStore::open(path);
  ASSERT_TRUE(store);
  Expected<std::optional<JobMeta>> job;
  EXPECT_NO_THROW(job = (*store)->job());
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(job.error().message.find("requests"), std::string::npos);
  EXPECT_NE(job.error().message.find("--restart"), std::string::npos);
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

// Regression: a row skipped by INSERT OR IGNORE (a line already stored) was counted as committed.
TEST(JobStore, ALineStoredTwiceCountsOnce) {
  auto store = JobStore::open(test::scratch_dir() / "state.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->create_job(JobMeta{}, {}));
  ResultRecord r;
  r.line = 7;
  r.custom_id = "a";
  r.ok = true;
  (*store)->append(r);
  ASSERT_TRUE((*store)->flush());
  (*store)->append(r);
  ASSERT_TRUE((*store)->flush());
  EXPECT_EQ((*store)->committed(), 1);
}

}  // namespace
}  // namespace batchwise
