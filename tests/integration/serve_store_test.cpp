// `serve` when a batch's state cannot be written (a full disk, made here by a file-size limit on the
// server process): the batch ends `failed` with the reason instead of staying in_progress, the server
// goes on answering, and every result it reported done is durable in the batch's state.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "serve_process.h"
#include "state_db_reader.h"
#include "test_support.h"

namespace batchwise {
namespace {

using nlohmann::json;
using test::Serve;

TEST(ServeStore, AFullDiskFailsTheBatchWithTheReasonAndLosesNothingReported) {
  const auto dir = test::scratch_dir();
  test::ensure_tiny_model();  // made beforehand: the limit is for the server's files, not the model cache
  // 300 KiB a file: the upload and server.db fit; the batch's results (its WAL) do not.
  Serve serve(dir / "state", {}, "trap '' XFSZ; ulimit -f 300;");
  const std::string id = serve.create_batch(serve.upload(test::serve_batch_file(1000, 32)))["id"];
  json b;
  int64_t reported = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    b = serve.get("/v1/batches/" + id);
    if (!b.is_object()) continue;
    reported = std::max<int64_t>(reported, b["request_counts"].value("completed", 0));
    const std::string status = b.value("status", "");
    if (status != "validating" && status != "in_progress") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(b.value("status", ""), "failed") << b.dump();
  EXPECT_TRUE(b["failed_at"].is_number());
  const std::string message = b["errors"]["data"][0].value("message", "");
  EXPECT_NE(message.find("disk full"), std::string::npos) << b.dump();
  EXPECT_EQ(b["errors"]["data"][0]["code"], "io_error");
  EXPECT_LT(reported, 1000) << "the batch finished: make it larger than the limit";
  EXPECT_EQ(serve.http().Get("/health")->status, 200) << "the server must go on";
  // Every result reported done is in the state, durable.
  const auto state_db = dir / "state" / "batches" / id / "state.db";
  EXPECT_GE(test::count_durable_results(state_db), reported);
  const auto check = test::run_shell("sqlite3 " + test::shell_quote(state_db.string()) + " 'PRAGMA integrity_check'");
  EXPECT_EQ(check.out, "ok\n") << check.err;
}

}  // namespace
}  // namespace batchwise
