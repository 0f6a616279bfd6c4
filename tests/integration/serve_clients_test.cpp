// `batchwise serve` as its users' own tools see it: the official OpenAI Node SDK, a real Prometheus
// scraping /metrics, and Debian's headless Chromium loading the live page while a batch runs. Each test
// skips with a message only where its tool is not installed (scripts/install_deps.sh installs them all).
#include <gtest/gtest.h>

#include <regex>

#include <chrono>
#include <thread>

#include "serve_process.h"
#include "test_support.h"

namespace batchwise {
namespace {

using nlohmann::json;
using test::Serve;

bool have(const std::string& tool) { return test::run_shell("command -v " + tool + " >/dev/null").exit_code == 0; }

// tests/sdk, where the pinned openai package is installed; empty when it or node is missing.
std::filesystem::path sdk_dir() {
  const std::filesystem::path sdk = std::filesystem::path(BATCHWISE_SOURCE_DIR) / "tests" / "sdk";
  return have("node") && std::filesystem::exists(sdk / "node_modules" / "openai") ? sdk : std::filesystem::path();
}
constexpr const char* kNoSdk =
    "node or the pinned openai package is missing: scripts/build.sh installs it (npm ci in tests/sdk)";

std::string chromium_binary() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    if (have(name)) return name;
  }
  return "";
}

TEST(ServeClients, TheOfficialOpenAiNodeSdkRunsABatchAndCancelsOne) {
  const std::filesystem::path sdk = sdk_dir();
  if (sdk.empty()) GTEST_SKIP() << kNoSdk;
  const auto dir = test::scratch_dir();
  test::write_text(dir / "in.jsonl", test::serve_batch_file(30, 4));
  Serve serve(dir / "state");
  const auto r = test::run_shell("cd " + test::shell_quote(sdk.string()) + " && BASE_URL=" + serve.url() +
                                 "/v1 node batch_roundtrip.mjs " + test::shell_quote((dir / "in.jsonl").string()) +
                                 " 30");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json seen = json::parse(r.out);
  EXPECT_EQ(seen["completed"], 30);
  EXPECT_EQ(seen["statuses"].back(), "completed");
  EXPECT_TRUE(seen["cancelled"] == "cancelled" || seen["cancelled"] == "completed");
}

TEST(ServeClients, TheOfficialOpenAiNodeSdkStreamsChatAndCompletionsAsTheyAreGenerated) {
  const std::filesystem::path sdk = sdk_dir();
  if (sdk.empty()) GTEST_SKIP() << kNoSdk;
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const auto r = test::run_shell("cd " + test::shell_quote(sdk.string()) + " && BASE_URL=" + serve.url() + "/v1 node stream.mjs");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json seen = json::parse(r.out);
  EXPECT_GE(seen["chat_pieces"].get<int>(), 2);
  EXPECT_EQ(seen["usage"], 12);
  EXPECT_GE(seen["completion_pieces"].get<int>(), 2);
}

TEST(ServeClients, TheOfficialOpenAiNodeSdkUsesTheResponsesApiAndRunsAResponsesBatch) {
  const std::filesystem::path sdk = sdk_dir();
  if (sdk.empty()) GTEST_SKIP() << kNoSdk;
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const auto r = test::run_shell("cd " + test::shell_quote(sdk.string()) + " && BASE_URL=" + serve.url() +
                                 "/v1 node responses.mjs " + test::shell_quote(dir.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json seen = json::parse(r.out);
  EXPECT_FALSE(seen["output_text"].get<std::string>().empty());
  EXPECT_EQ(seen["status"], "incomplete");
  EXPECT_GE(seen["streamed_events"].get<int>(), 10) << "four opening events, a delta per token, four closing";
  EXPECT_EQ(seen["batch_endpoint"], "/v1/responses");
  EXPECT_EQ(seen["batch_completed"], 3);
}

TEST(ServeClients, TheOfficialOpenAiNodeSdkDecodesEmbeddingsOfAnEmbeddingModel) {
  const std::filesystem::path sdk = sdk_dir();
  if (sdk.empty()) GTEST_SKIP() << kNoSdk;
  const auto dir = test::scratch_dir();
  const auto model = dir / "emb.gguf";
  ASSERT_EQ(test::run_batchwise({"synth", "-m", "tiny", "--pooling", "mean", "-o", model.string()}).exit_code, 0);
  Serve serve(dir / "state", {"-m", model.string()});
  const auto r = test::run_shell("cd " + test::shell_quote(sdk.string()) + " && BASE_URL=" + serve.url() +
                                 "/v1 node embeddings.mjs");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json seen = json::parse(r.out);
  EXPECT_EQ(seen["width"], 64);
  EXPECT_GT(seen["prompt_tokens"].get<int>(), 4);
}

TEST(ServeClients, PrometheusScrapesTheRequestCountOfABatch) {
  if (!have("prometheus")) GTEST_SKIP() << "prometheus is not installed (Debian package `prometheus`)";
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const std::string id = serve.create_batch(serve.upload(test::serve_batch_file(25, 4)))["id"];
  serve.wait(id, [](const json& b) { return b["status"] == "completed"; });

  const int prom_port = test::free_local_port();
  test::write_text(dir / "prometheus.yml", "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: batchwise\n"
                                           "    static_configs:\n      - targets: ['127.0.0.1:" +
                                               std::to_string(serve.process().port()) + "']\n");
  std::string error;
  auto prom = test::ServerProcess::start(
      {"prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir / "tsdb").string(), "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
      prom_port, dir / "prometheus.log", 60, &error, "/-/ready");
  ASSERT_TRUE(prom) << error;
  httplib::Client client("127.0.0.1", prom_port);
  double value = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && value != 25) {
    auto res = client.Get("/api/v1/query?query=batchwise_requests_total%7Boutcome%3D%22ok%22%7D");
    if (res && res->status == 200) {
      const json j = json::parse(res->body, nullptr, false);
      if (j.is_object() && !j["data"]["result"].empty()) value = std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(value, 25) << "Prometheus never read the batch's 25 requests";
  auto up = client.Get("/api/v1/query?query=up%7Bjob%3D%22batchwise%22%7D");
  ASSERT_TRUE(up);
  EXPECT_NE(up->body.find("\"1\""), std::string::npos) << "the scrape target is not up: " << up->body;
}

TEST(ServeClients, HeadlessChromiumShowsTheLivePageWithARunningBatch) {
  const std::string chromium = chromium_binary();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (Debian package `chromium`)";
  const auto dir = test::scratch_dir();
  Serve serve(dir / "state");
  const std::string id = serve.create_batch(serve.upload(test::serve_batch_file(400, 16)))["id"];
  serve.wait(id, [](const json& b) { return b["status"] == "in_progress"; });
  const std::string flags = " --headless --no-sandbox --disable-gpu --virtual-time-budget=4000 ";
  const auto dom = test::run_shell(chromium + flags + "--dump-dom " + serve.url() + "/ 2>/dev/null");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_NE(dom.out.find(id), std::string::npos) << "the page does not list the batch";
  EXPECT_NE(dom.out.find("in_progress"), std::string::npos);
  EXPECT_NE(dom.out.find("tiny"), std::string::npos) << "the page does not list the model";
  // Tokens per second, of the batch and of its model: numbers while the batch runs, never the placeholder.
  const std::regex rows(R"(<tr><td>(batch_[^<]+|tiny)</td>.*?</tr>)");
  int rows_seen = 0;
  for (std::sregex_iterator it(dom.out.begin(), dom.out.end(), rows), end; it != end; ++it) {
    const std::string row = it->str();
    std::vector<std::string> cells;
    const std::regex td(R"(<td>([^<]*)</td>)");
    for (std::sregex_iterator c(row.begin(), row.end(), td); c != end; ++c) cells.push_back((*c)[1]);
    // the cells without markup: models: model, loaded, in flight, tokens, tok/s; batches: batch, status, model,
    // done, failed, req/s, tok/s (the progress cell holds a bar)
    const size_t tok_s = (*it)[1].str() == "tiny" ? 4 : 6;
    ASSERT_GT(cells.size(), tok_s) << row;
    EXPECT_TRUE(std::regex_match(cells[tok_s], std::regex("[0-9]+"))) << "tok/s is `" << cells[tok_s] << "` in " << row;
    rows_seen++;
  }
  EXPECT_EQ(rows_seen, 2) << dom.out;
  const auto shot = dir / "page.png";
  const auto r = test::run_shell(chromium + flags + "--window-size=1200,700 --screenshot=" + shot.string() + " " +
                                 serve.url() + "/ 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  ASSERT_TRUE(std::filesystem::exists(shot));
  // A blank 1200x700 page compresses to a few KB; tables of text do not.
  EXPECT_GT(std::filesystem::file_size(shot), 12000u);
  serve.http().Post(("/v1/batches/" + id + "/cancel").c_str(), "", "application/json");
}

}  // namespace
}  // namespace batchwise
