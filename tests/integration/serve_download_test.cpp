// `batchwise serve` downloads of GET /v1/files/ID/content, streamed: a running batch's results so far
// come chunked from a read-only connection to its state (never the job writer's), a finished batch's
// file in chunks of the file on disk. Each download is whole JSON lines, each custom_id once; a
// finished one is the file's bytes exactly, with its length, and a Range of it works.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>

#include "core/files.h"
#include "serve_process.h"
#include "test_support.h"

namespace batchwise {
namespace {

using nlohmann::json;
using test::Serve;

using test::batch_finished;

// The custom_ids of a download, each checked to be a whole JSON object on a line of its own.
std::vector<std::string> whole_lines(const std::string& body) {
  std::vector<std::string> ids;
  if (body.empty()) return ids;
  EXPECT_EQ(body.back(), '\n') << "the last line was cut";
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object() && j["custom_id"].is_string()) << "not a whole JSON line: " << line.substr(0, 200);
    if (j.is_object() && j["custom_id"].is_string()) ids.push_back(j["custom_id"]);
  }
  return ids;
}

void expect_each_once(const std::vector<std::string>& ids) {
  std::set<std::string> seen;
  for (const auto& id : ids) EXPECT_TRUE(seen.insert(id).second) << id << " twice";
}

TEST(ServeDownloads, ARunningBatchStreamsWholeLinesEachCustomIdOnceAndAFinishedOneIsTheFileExactly) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  // Past one page (256) of results. A download must land while results 257..300 are being committed: answers of
  // 16 tokens and a download every 4 results keep that window several downloads wide on a fast machine too.
  constexpr int kLines = 300;
  const std::string id = serve.create_batch(serve.upload(test::serve_batch_file(kLines, 16)))["id"];
  const json running = serve.wait(id, [](const json& b) {
    return b["status"] == "in_progress" && b["request_counts"].value("completed", 0) >= 10;
  });
  const std::string path = "/v1/files/" + running["output_file_id"].get<std::string>() + "/content";

  // Downloads while it runs, spread over the run: each is whole lines, ids once, never fewer than the one
  // before.
  // Each download waits for the batch to move on by a few results (or to finish), not for a fixed time.
  size_t streamed = 0, most_streamed = 0, last = 0;
  int completed = running["request_counts"].value("completed", 0);
  for (int i = 0; i < 3000; ++i) {
    const json b = serve.wait(id, [&](const json& x) {
      return batch_finished(x) || x["request_counts"].value("completed", 0) >= completed + 4;
    });
    if (batch_finished(b)) break;
    completed = b["request_counts"].value("completed", 0);
    auto res = serve.http().Get(path.c_str());
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/jsonl");
    const auto ids = whole_lines(res->body);
    expect_each_once(ids);
    EXPECT_GE(ids.size(), last);
    last = ids.size();
    if (res->get_header_value("Transfer-Encoding") == "chunked") {
      streamed++;
      most_streamed = std::max(most_streamed, ids.size());
    }
  }
  EXPECT_GT(streamed, 0u) << "no download met the batch running: make it longer";
  EXPECT_GT(most_streamed, 256u) << "no running download spanned two pages of results";

  const json done = serve.wait(id, batch_finished);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  auto res = serve.http().Get(path.c_str());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const auto on_disk = read_file(dir / "state" / "batches" / id / "output.jsonl");
  ASSERT_TRUE(on_disk);
  ASSERT_GT(on_disk->size(), 71000u) << "the Range below must reach the second 64 KiB chunk: make the batch longer";
  EXPECT_TRUE(res->body == *on_disk) << "the finished download is not the file's bytes";
  EXPECT_EQ(res->get_header_value("Content-Length"), std::to_string(on_disk->size()));
  const auto ids = whole_lines(res->body);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLines));
  expect_each_once(ids);

  // A Range that starts in the first 64 KiB chunk and ends in the second.
  auto part = serve.http().Get(path.c_str(), httplib::Headers{{"Range", "bytes=65000-70999"}});
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_TRUE(part->body == on_disk->substr(65000, 6000)) << "the Range's bytes differ from the file's";
}

TEST(ServeDownloads, AnUploadedFileDownloadsByteForByte) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const std::string content = test::serve_batch_file(2000, 4);  // ~440 KiB: several chunks
  const std::string file_id = serve.upload(content);
  auto res = serve.http().Get(("/v1/files/" + file_id + "/content").c_str());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->body.size(), content.size());
  EXPECT_TRUE(res->body == content);
}

}  // namespace
}  // namespace batchwise
