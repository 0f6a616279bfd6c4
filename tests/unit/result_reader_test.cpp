// ResultReader: a job's committed results read over a read-only connection of its own while the job's
// JobStore commits (serve's downloads of a running batch), a page at a time, in line order.
#include "job/result_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "job/job_store.h"
#include "test_support.h"

namespace batchwise {
namespace {

ResultRecord result(int64_t line) {
  ResultRecord r;
  r.line = line;
  r.custom_id = "c" + std::to_string(line);
  r.ok = line % 5 != 0;  // every fifth fails
  r.status_code = r.ok ? 200 : 500;
  // Bytes as a server sent them: odd key order and an exponent must come back unchanged.
  r.body = r.ok ? R"({"z":1,"a":1.10e-7,"n":)" + std::to_string(line) + "}" : "";
  r.error_code = r.ok ? "" : "server_error";
  r.error_message = r.ok ? "" : "boom " + std::to_string(line);
  r.attempts = 1;
  return r;
}

std::vector<ResultRecord> read_all(ResultReader& reader, size_t page_limit) {
  std::vector<ResultRecord> all;
  while (true) {
    auto page = reader.next_page();
    EXPECT_TRUE(page) << page.error().message;
    if (!page || page->empty()) return all;
    EXPECT_LE(page->size(), page_limit);
    all.insert(all.end(), page->begin(), page->end());
  }
}

TEST(ResultReader, ReadsWhatIsCommittedWhileTheStoreWritesEachLineOnceInOrder) {
  const auto path = test::scratch_dir() / "state.db";
  StoreOptions options;
  options.group_ms = 1;
  options.group_size = 16;  // many small commits: the reader meets the writer mid-stream
  auto store = JobStore::open(path, options);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->create_job(JobMeta{}, {}));

  constexpr int64_t kLines = 3000;
  std::vector<int64_t> order(kLines);
  std::iota(order.begin(), order.end(), 1);
  std::shuffle(order.begin(), order.end(), std::mt19937(7));  // answers come back out of order

  std::atomic<bool> writing{true};
  std::atomic<int> passes{0};
  std::thread reader_thread([&] {
    while (writing.load()) {
      const int64_t committed_before = (*store)->committed();
      auto reader = ResultReader::open(path, ResultReader::Which::kAll, 37);
      ASSERT_TRUE(reader) << reader.error().message;
      const auto seen = read_all(**reader, 37);
      // In line order, each line once, and nothing committed before the pass began is missed.
      for (size_t i = 1; i < seen.size(); ++i) ASSERT_LT(seen[i - 1].line, seen[i].line);
      EXPECT_GE(static_cast<int64_t>(seen.size()), committed_before);
      for (const auto& r : seen) ASSERT_EQ(r.custom_id, "c" + std::to_string(r.line));
      passes++;
    }
  });
  for (int64_t line : order) ASSERT_TRUE((*store)->append(result(line)));
  ASSERT_TRUE((*store)->flush());
  writing = false;
  reader_thread.join();
  EXPECT_GT(passes.load(), 0);

  auto reader = ResultReader::open(path);
  ASSERT_TRUE(reader);
  const auto all = read_all(**reader, 256);
  ASSERT_EQ(static_cast<int64_t>(all.size()), kLines);
  for (int64_t i = 0; i < kLines; ++i) {
    const ResultRecord want = result(i + 1);
    EXPECT_EQ(all[i].line, want.line);
    EXPECT_EQ(all[i].ok, want.ok);
    EXPECT_EQ(all[i].body, want.body);
    EXPECT_EQ(all[i].error_message, want.error_message);
  }
}

TEST(ResultReader, GivesOnlySuccessesOrOnlyFailuresWhenAsked) {
  const auto path = test::scratch_dir() / "state.db";
  {
    auto store = JobStore::open(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->create_job(JobMeta{}, {}));
    for (int64_t line = 1; line <= 100; ++line) ASSERT_TRUE((*store)->append(result(line)));
    ASSERT_TRUE((*store)->flush());
  }
  auto ok = ResultReader::open(path, ResultReader::Which::kOk, 9);
  auto failed = ResultReader::open(path, ResultReader::Which::kFailed, 9);
  ASSERT_TRUE(ok && failed);
  const auto oks = read_all(**ok, 9);
  const auto fails = read_all(**failed, 9);
  EXPECT_EQ(oks.size(), 80u);
  EXPECT_EQ(fails.size(), 20u);
  for (const auto& r : oks) EXPECT_TRUE(r.ok) << r.line;
  for (const auto& r : fails) {
    EXPECT_FALSE(r.ok) << r.line;
    EXPECT_EQ(r.line % 5, 0);
  }
}

TEST(ResultReader, PagesOnToResultsCommittedAfterItStartedWithoutRepeatingAny) {
  const auto path = test::scratch_dir() / "state.db";
  auto store = JobStore::open(path);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->create_job(JobMeta{}, {}));
  for (int64_t line : {1, 3, 4, 5, 6, 7, 8, 9, 10}) ASSERT_TRUE((*store)->append(result(line)));
  ASSERT_TRUE((*store)->flush());
  auto reader = ResultReader::open(path, ResultReader::Which::kAll, 4);
  ASSERT_TRUE(reader);
  auto first = (*reader)->next_page();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 4u);
  EXPECT_EQ(first->back().line, 5);
  // Line 2 comes late, behind the reader (its place was read before it was there): the next download
  // has it. 11 and 12 are ahead of the reader, and this one has them.
  for (int64_t line : {2, 11, 12}) ASSERT_TRUE((*store)->append(result(line)));
  ASSERT_TRUE((*store)->flush());
  std::vector<int64_t> rest;
  for (const auto& r : read_all(**reader, 4)) rest.push_back(r.line);
  EXPECT_EQ(rest, (std::vector<int64_t>{6, 7, 8, 9, 10, 11, 12}));
}

TEST(ResultReader, AStateThatIsNotThereIsAnErrorAndIsNotCreated) {
  const auto path = test::scratch_dir() / "missing.db";
  auto reader = ResultReader::open(path);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code, ErrorCode::kIo);
  EXPECT_NE(reader.error().message.find("missing.db"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path)) << "a read-only reader must never create a state";
}

}  // namespace
}  // namespace batchwise
