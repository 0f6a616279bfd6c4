// The batch lifecycle's table: OpenAI's moves are there, nothing moves a finished batch, and each move stamps
// its time.
#include "server/batch_lifecycle.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

using S = BatchStatus;

TEST(BatchLifecycle, OpenAisPathsAreTheOnlyMoves) {
  EXPECT_TRUE(can_move(S::kValidating, S::kInProgress));
  EXPECT_TRUE(can_move(S::kInProgress, S::kFinalizing));
  EXPECT_TRUE(can_move(S::kFinalizing, S::kCompleted));
  EXPECT_TRUE(can_move(S::kInProgress, S::kCancelling));
  EXPECT_TRUE(can_move(S::kCancelling, S::kCancelled));
  EXPECT_TRUE(can_move(S::kInProgress, S::kExpired));
  for (S from : {S::kValidating, S::kInProgress, S::kFinalizing, S::kCancelling}) EXPECT_TRUE(can_move(from, S::kFailed));
  // A cancelled request is never completed, a finishing batch is not cancelled, and nothing skips finalizing.
  EXPECT_FALSE(can_move(S::kCancelling, S::kCompleted));
  EXPECT_FALSE(can_move(S::kFinalizing, S::kCancelling));
  EXPECT_FALSE(can_move(S::kInProgress, S::kCompleted));
  for (S done : {S::kCompleted, S::kFailed, S::kExpired, S::kCancelled}) {
    EXPECT_TRUE(is_final(done));
    for (int to = 0; to < 8; ++to) EXPECT_FALSE(can_move(done, static_cast<S>(to))) << batch_status_name(done);
  }
}

TEST(BatchLifecycle, AMoveStampsItsTimeAndARefusedOneChangesNothing) {
  nlohmann::json d = {{"status", "validating"}, {"in_progress_at", nullptr}};
  ASSERT_TRUE(move_batch(d, S::kInProgress, 100));
  EXPECT_EQ(d["status"], "in_progress");
  EXPECT_EQ(d["in_progress_at"], 100);
  ASSERT_TRUE(move_batch(d, S::kCancelling, 105));
  EXPECT_EQ(d["cancelling_at"], 105);
  const nlohmann::json before = d;
  EXPECT_FALSE(move_batch(d, S::kCompleted, 110));
  EXPECT_EQ(d, before);
  ASSERT_TRUE(move_batch(d, S::kCancelled, 111));
  EXPECT_FALSE(move_batch(d, S::kFailed, 112)) << "a cancelled batch stays cancelled";
  EXPECT_EQ(d["status"], "cancelled");
  EXPECT_FALSE(parse_batch_status("done").has_value());
  EXPECT_EQ(parse_batch_status("finalizing"), S::kFinalizing);
}

}  // namespace
}  // namespace batchwise
