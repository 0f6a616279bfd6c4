// AtomicFile: the one way a file is replaced; whatever fails on the way, no PATH.tmp is left.
#include "core/atomic_file.h"

#include <gtest/gtest.h>

#include "core/files.h"
#include "test_support.h"

namespace batchwise {
namespace {

TEST(AtomicFile, CommitReplacesTheFileAndLeavesNoTmp) {
  const auto path = test::scratch_dir() / "out.jsonl";
  ASSERT_TRUE(write_file_atomic(path, "old\n"));
  auto f = AtomicFile::create(path);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->append("new\n"));
  EXPECT_EQ(*read_file(path), "old\n");  // unchanged until the commit
  ASSERT_TRUE(f->commit());
  EXPECT_EQ(*read_file(path), "new\n");
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}

// Regression: on a full disk out.jsonl.tmp was left behind.
TEST(AtomicFile, AFailedOrAbandonedWriteLeavesNoTmpAndTheOldFile) {
  const auto dir = test::scratch_dir();
  {
    auto f = AtomicFile::create(dir / "abandoned.jsonl");
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->append("half"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "abandoned.jsonl.tmp"));
  std::filesystem::create_directories(dir / "a_folder");  // rename onto a folder fails
  {
    auto f = AtomicFile::create(dir / "a_folder");
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->commit());
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "a_folder.tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "a_folder"));
}

}  // namespace
}  // namespace batchwise
