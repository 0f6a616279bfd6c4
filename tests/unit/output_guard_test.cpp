// The output guard: what a verb refuses before it writes a file the user named, and what it says.
#include "cli/output_guard.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace batchwise {
namespace {

TEST(OutputGuard, AnExistingFileIsReplacedOnlyWithForce) {
  const auto dir = test::scratch_dir();
  test::write_text(dir / "out.jsonl", "x\n");
  const auto refused = refuse_overwrite(dir / "out.jsonl", "-o", /*force=*/false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("--force"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(refuse_overwrite(dir / "out.jsonl", "-o", /*force=*/true));
  EXPECT_TRUE(refuse_overwrite(dir / "new.jsonl", "-o", /*force=*/false));
}

// Issue 29: a missing folder was met only when the first file was written ("cannot create ….tmp").
TEST(OutputGuard, AMissingFolderIsNamedWithTheMkdirThatMakesIt) {
  const auto dir = test::scratch_dir();
  EXPECT_TRUE(require_output_folder(dir / "out.jsonl", "-o"));
  const auto missing = require_output_folder(dir / "a" / "b" / "out.jsonl", "-o");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(missing.error().message.find("the folder " + (dir / "a" / "b").string() + " does not exist"),
            std::string::npos)
      << missing.error().message;
  EXPECT_NE(missing.error().message.find("mkdir -p " + (dir / "a" / "b").string() + ")"), std::string::npos)
      << missing.error().message;
}

TEST(OutputGuard, AFolderNameThatIsAFileOrNeedsQuotingIsSaidSo) {
  const auto dir = test::scratch_dir();
  test::write_text(dir / "file", "");
  const auto not_folder = require_output_folder(dir / "file" / "out.jsonl", "-o");
  ASSERT_FALSE(not_folder);
  EXPECT_NE(not_folder.error().message.find("is not a folder"), std::string::npos) << not_folder.error().message;
  const auto spaced = require_output_folder(dir / "my runs" / "out.jsonl", "-o");
  ASSERT_FALSE(spaced);
  EXPECT_NE(spaced.error().message.find("mkdir -p '" + (dir / "my runs").string() + "'"), std::string::npos)
      << spaced.error().message;
}

// A relative path is checked where it will be written: beside the current folder's files.
TEST(OutputGuard, ARelativePathInTheCurrentFolderNeedsNoFolder) {
  EXPECT_TRUE(require_output_folder("out.jsonl", "-o"));
}

}  // namespace
}  // namespace batchwise
