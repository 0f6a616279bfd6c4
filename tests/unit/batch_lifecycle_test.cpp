// The batch lifecycle's table: OpenAI's moves are there, nothing moves a finished batch, and each move stamps
// its time; the typed batch record reads and writes serve's stored documents unchanged.
#include "server/batch_lifecycle.h"
#include "server/batch_record.h"

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
  BatchRecord r;
  r.id = "batch_x";
  ASSERT_TRUE(r.move(S::kInProgress, 100));
  EXPECT_EQ(r.to_api()["status"], "in_progress");
  EXPECT_EQ(r.to_api()["in_progress_at"], 100);
  ASSERT_TRUE(r.move(S::kCancelling, 105));
  EXPECT_EQ(r.to_api()["cancelling_at"], 105);
  const nlohmann::json before = r.to_stored();
  EXPECT_FALSE(r.move(S::kCompleted, 110));
  EXPECT_EQ(r.to_stored(), before);
  ASSERT_TRUE(r.move(S::kCancelled, 111));
  EXPECT_FALSE(r.move(S::kFailed, 112)) << "a cancelled batch stays cancelled";
  EXPECT_EQ(r.to_api()["status"], "cancelled");
  EXPECT_FALSE(parse_batch_status("done").has_value());
  EXPECT_EQ(parse_batch_status("finalizing"), S::kFinalizing);
}

// A batch document as serve wrote it before the record was typed loads, keeps every field the Batch API shows,
// and writes back the same document; the server's own field never reaches a client.
TEST(BatchRecord, AStoredDocumentRoundTripsAndTheApiShowsNoPrivateField) {
  const nlohmann::json stored = {
      {"id", "batch_0123456789abcdef0123456789abcdef"}, {"object", "batch"}, {"endpoint", "/v1/chat/completions"},
      {"errors", {{"object", "list"}, {"data", {{{"code", "invalid_request"}, {"message", "2 lines"}, {"param", nullptr}, {"line", nullptr}}}}}},
      {"input_file_id", "file-1"}, {"completion_window", "24h"}, {"status", "in_progress"},
      {"output_file_id", "file-2"}, {"error_file_id", nullptr}, {"created_at", 1000}, {"in_progress_at", 1001},
      {"expires_at", 87400}, {"finalizing_at", nullptr}, {"completed_at", nullptr}, {"failed_at", nullptr},
      {"expired_at", nullptr}, {"cancelling_at", nullptr}, {"cancelled_at", nullptr},
      {"request_counts", {{"total", 10}, {"completed", 4}, {"failed", 1}}}, {"metadata", {{"run", "a"}}},
      {"model", "tiny"}, {"batchwise_expiring", true}};
  auto r = BatchRecord::from_stored(stored);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, S::kInProgress);
  EXPECT_TRUE(r->expiring);
  EXPECT_EQ(r->request_counts, (RequestCounts{10, 4, 1}));
  EXPECT_EQ(r->output_file_id, "file-2");
  EXPECT_FALSE(r->error_file_id.has_value());
  EXPECT_EQ(r->to_stored(), stored);
  nlohmann::json api = stored;
  api.erase("batchwise_expiring");
  EXPECT_EQ(r->to_api(), api);
}

TEST(BatchRecord, AStoredDocumentThatIsNotABatchIsAnErrorNamingIt) {
  auto bad_status = BatchRecord::from_stored({{"id", "batch_1"}, {"endpoint", "/v1/completions"}, {"input_file_id", "f"},
                                              {"status", "done"}, {"created_at", 1}});
  ASSERT_FALSE(bad_status);
  EXPECT_NE(bad_status.error().message.find("batch_1"), std::string::npos) << bad_status.error().message;
  EXPECT_NE(bad_status.error().message.find("done"), std::string::npos);
  auto missing = BatchRecord::from_stored({{"id", "batch_2"}, {"status", "completed"}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("batch_2"), std::string::npos);
}

}  // namespace
}  // namespace batchwise
