// `batchwise serve` end to end: the real binary on loopback, the tiny model, real HTTP. Files and
// batches to completion, kill -9 mid-batch and exactly-once resume, cancel, expiry, LRU between two
// models, hostile ids, authentication, and the OpenAI error object for bad requests.
#include <gtest/gtest.h>

#include "model/synth.h"
#include "serve_process.h"
#include "test_support.h"

namespace batchwise {
namespace {

using nlohmann::json;
using test::Serve;

using test::batch_finished;

TEST(Serve, ABatchGoesFromValidatingToCompletedWithEveryCustomIdOnce) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const std::string file_id = serve.upload(test::serve_batch_file(40, 4));
  ASSERT_TRUE(file_id.starts_with("file-"));
  const json created = serve.create_batch(file_id);
  EXPECT_EQ(created["status"], "validating");
  EXPECT_EQ(created["object"], "batch");
  const json done = serve.wait(created["id"], batch_finished);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"], (json{{"total", 40}, {"completed", 40}, {"failed", 0}}));
  for (const char* t : {"created_at", "in_progress_at", "finalizing_at", "completed_at", "expires_at"}) {
    EXPECT_TRUE(done[t].is_number()) << t;
  }
  const auto out = serve.content(done["output_file_id"]);
  const auto ids = test::custom_id_counts(out);
  EXPECT_EQ(ids.size(), 40u);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(out.front()["response"]["body"]["object"], "chat.completion");
  EXPECT_TRUE(done["error_file_id"].is_null()) << "an error file only when there are errors";
  const json file = serve.get("/v1/files/" + done["output_file_id"].get<std::string>());
  EXPECT_EQ(file["purpose"], "batch_output");
  EXPECT_GT(file["bytes"].get<int64_t>(), 0);
  // /metrics counts the batch by its status.
  const auto metrics = serve.http().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("batchwise_batches{status=\"completed\"} 1"), std::string::npos) << metrics->body;
}

TEST(Serve, KilledMidBatchItResumesAndFinishesWithoutRedoingWhatWasDone) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const std::string file_id = serve.upload(test::serve_batch_file(240, 8));
  const std::string id = serve.create_batch(file_id)["id"];
  const json before = serve.wait(id, [](const json& b) { return b["request_counts"].value("completed", 0) >= 30; });
  const int64_t done_before = before["request_counts"]["completed"];  // durable when reported
  ASSERT_LT(done_before, 240) << "the batch finished before the kill: make it longer";
  serve.process().kill_hard();

  serve.restart();
  const json done = serve.wait(id, batch_finished);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  const auto ids = test::custom_id_counts(serve.content(done["output_file_id"]));
  EXPECT_EQ(ids.size(), 240u);
  for (const auto& [cid, n] : ids) EXPECT_EQ(n, 1) << cid;
  // The restarted server ran at most what was not reported done before the kill.
  auto metrics = serve.http().Get("/metrics");
  ASSERT_TRUE(metrics);
  const std::string key = "batchwise_requests_total{model=\"tiny\",outcome=\"ok\"} ";
  const auto at = metrics->body.find(key);
  ASSERT_NE(at, std::string::npos) << metrics->body;
  const int64_t ran_after = std::stoll(metrics->body.substr(at + key.size()));
  EXPECT_LE(ran_after, 240 - done_before) << "work reported done before the kill was done again";
  EXPECT_GT(ran_after, 0);
}

TEST(Serve, ACancelledBatchKeepsWhatItFinishedAndAnExpiredOneToo) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const std::string file_id = serve.upload(test::serve_batch_file(400, 16));
  const std::string id = serve.create_batch(file_id)["id"];
  serve.wait(id, [](const json& b) { return b["request_counts"].value("completed", 0) >= 5; });
  // As OpenAI's docs write it: a POST with no body at all (no Content-Length).
  const auto res = test::run_shell("curl -s -X POST " + serve.url() + "/v1/batches/" + id + "/cancel");
  ASSERT_EQ(res.exit_code, 0);
  EXPECT_EQ(json::parse(res.out, nullptr, false).value("status", ""), "cancelling") << res.out;
  const json cancelled = serve.wait(id, batch_finished);
  EXPECT_EQ(cancelled["status"], "cancelled");
  const int64_t kept = cancelled["request_counts"]["completed"];
  EXPECT_GE(kept, 5);
  EXPECT_LT(kept, 400);
  EXPECT_EQ(static_cast<int64_t>(serve.content(cancelled["output_file_id"]).size()), kept);
  // Every input line is accounted for once: done, or in the error file as batch_cancelled.
  const auto errors = serve.content(cancelled["error_file_id"]);
  EXPECT_EQ(static_cast<int64_t>(errors.size()), 400 - kept);
  for (const auto& e : errors) EXPECT_EQ(e["error"]["code"], "batch_cancelled") << e.dump();
  auto all = test::custom_id_counts(serve.content(cancelled["output_file_id"]));
  for (const auto& [cid, n] : test::custom_id_counts(errors)) all[cid] += n;
  EXPECT_EQ(all.size(), 400u);
  for (const auto& [cid, n] : all) EXPECT_EQ(n, 1) << cid;

  const std::string expiring = serve.create_batch(file_id, "2s")["id"];
  const json expired = serve.wait(expiring, batch_finished);
  EXPECT_EQ(expired["status"], "expired");
  EXPECT_TRUE(expired["expired_at"].is_number());
  EXPECT_EQ(static_cast<int64_t>(serve.content(expired["output_file_id"]).size()),
            expired["request_counts"]["completed"].get<int64_t>());
  if (expired["request_counts"]["completed"] < 400) {
    const auto left = serve.content(expired["error_file_id"]);
    EXPECT_EQ(static_cast<int64_t>(left.size()), 400 - expired["request_counts"]["completed"].get<int64_t>());
    for (const auto& e : left) EXPECT_EQ(e["error"]["code"], "batch_expired") << e.dump();
  }
}

TEST(Serve, DownloadsDuringABatchGiveTheResultsSoFar) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const std::string id = serve.create_batch(serve.upload(test::serve_batch_file(300, 16)))["id"];
  const json running = serve.wait(id, [](const json& b) {
    return b["status"] == "in_progress" && b["request_counts"].value("completed", 0) >= 10;
  });
  const auto partial = serve.content(running["output_file_id"]);
  EXPECT_GE(partial.size(), 10u);
  EXPECT_LT(partial.size(), 300u);
  serve.http().Post(("/v1/batches/" + id + "/cancel").c_str(), "", "application/json");
}

TEST(Serve, WithOneModelSlotTwoModelsTakeTurnsLeastRecentlyUsedFirst) {
  const auto dir = test::scratch_dir();
  test::ensure_tiny_model();
  const auto model = default_tiny_model();
  ASSERT_TRUE(model);
  std::filesystem::copy_file(*model, dir / "alpha.gguf");
  std::filesystem::copy_file(*model, dir / "beta.gguf");
  Serve serve(dir / "state", {"-m", (dir / "alpha.gguf").string(), "-m", (dir / "beta.gguf").string(),
                              "--max-models", "1"});
  auto chat = [&](const std::string& m) {
    auto res = serve.http().Post("/v1/chat/completions",
                                 json{{"model", m}, {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                      {"max_tokens", 2}}.dump(),
                                 "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  };
  chat("alpha");
  chat("beta");
  chat("alpha");
  auto metrics = serve.http().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("batchwise_model_loads_total{model=\"alpha\"} 2"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("batchwise_model_evictions_total{model=\"alpha\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("batchwise_model_loaded{model=\"beta\"} 0"), std::string::npos);
  const json models = serve.get("/v1/models");
  EXPECT_EQ(models["data"].size(), 2u);

  // A model with work is never unloaded: while alpha runs a batch, beta cannot take its slot.
  const std::string busy = serve.create_batch(serve.upload(test::serve_batch_file(300, 16, "alpha")))["id"];
  serve.wait(busy, [](const json& b) { return b["status"] == "in_progress"; });
  auto refused = serve.http().Post("/v1/chat/completions",
                                   json{{"model", "beta"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                        {"max_tokens", 2}}.dump(),
                                   "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503) << refused->body;
  serve.http().Post(("/v1/batches/" + busy + "/cancel").c_str(), "", "application/json");
  EXPECT_EQ(serve.wait(busy, [](const json& b) { return b["status"] == "cancelled"; })["status"], "cancelled");
  auto unknown = serve.http().Post("/v1/chat/completions", R"({"model":"gamma","messages":[]})", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_NE(json::parse(unknown->body)["error"]["message"].get<std::string>().find("alpha"), std::string::npos);
}

TEST(Serve, HostileIdsAndBadRequestsGetOpenAiErrorsNeverAFile) {
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  for (const std::string path : {"/v1/files/..%2F..%2Fetc%2Fpasswd/content", "/v1/files/../../etc/passwd/content",
                                 "/v1/files/file-..%2Fserver.db/content", "/v1/files/%2Fetc%2Fpasswd",
                                 "/v1/batches/..%2Fserver.db", "/v1/files/file-0000/content"}) {
    auto res = serve.http().Get(path.c_str());
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path << ": " << res->body;
    EXPECT_EQ(res->body.find("root:"), std::string::npos);
  }
  auto bad = serve.http().Post("/v1/batches", "{not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(json::parse(bad->body)["error"]["message"].is_string());
  auto no_file = serve.http().Post("/v1/batches", R"({"input_file_id":"file-x","endpoint":"/v1/chat/completions","completion_window":"24h"})",
                                   "application/json");
  ASSERT_TRUE(no_file);
  EXPECT_EQ(no_file->status, 404);
  auto deep = serve.http().Post("/v1/chat/completions", std::string(100000, '[') + std::string(100000, ']'),
                                "application/json");
  ASSERT_TRUE(deep) << "the server died on deep JSON";
  EXPECT_EQ(deep->status, 400);
  httplib::MultipartFormDataItems not_batch = {{"file", "hello\n", "x.txt", "text/plain"}, {"purpose", "batch", "", ""}};
  auto junk = serve.http().Post("/v1/files", not_batch);
  ASSERT_TRUE(junk);
  EXPECT_EQ(junk->status, 400);
  EXPECT_NE(junk->body.find("line 1"), std::string::npos) << junk->body;
}

TEST(Serve, ANonLoopbackHostNeedsAnApiKeyAndTheKeyIsChecked) {
  const auto dir = test::scratch_dir();
  test::ensure_tiny_model();
  const auto refused = test::run_batchwise({"serve", "--host", "0.0.0.0", "--port", "0", "--state", (dir / "s").string()});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("--api-key-env"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "s" / "server.db")) << "it must refuse before it does anything";

  ::setenv("BW_SERVE_TEST_KEY", "s3cret-key", 1);
  Serve serve(dir / "state", {"--api-key-env", "BW_SERVE_TEST_KEY"});
  auto no_key = serve.http().Get("/v1/models");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401);
  EXPECT_EQ(json::parse(no_key->body)["error"]["code"], "invalid_api_key");
  serve.http().set_bearer_token_auth("s3cret-kez");
  EXPECT_EQ(serve.http().Get("/v1/models")->status, 401);
  serve.http().set_bearer_token_auth("s3cret-key");
  EXPECT_EQ(serve.http().Get("/v1/models")->status, 200);
  EXPECT_FALSE(serve.http().Get("/v1/models")->has_header("Access-Control-Allow-Origin")) << "no CORS unless asked";
}

}  // namespace
}  // namespace batchwise
