// `run` on a file with bad lines, as a user meets it: the progress line, the summary and the hint give one count
// of failures, a first run does not call itself a resume, and the hint says what fixes each kind of failure and
// how many --retry-failed runs again — the number it then runs.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "test_support.h"

namespace batchwise::test {
namespace {

std::string line(const std::string& id, const std::string& body) {
  return R"({"custom_id":")" + id + R"(","method":"POST","url":"/v1/chat/completions","body":)" + body + "}";
}

std::string chat(const std::string& content, const std::string& extra = "") {
  return R"({"max_tokens":2,"temperature":0,"messages":[{"role":"user","content":")" + content + R"("}])" + extra + "}";
}

// The "N failed" of the last progress line (0 when it names none).
int progress_failed(const std::string& err) {
  int failed = 0;
  const std::regex drawn(R"(100\.0%.*?(\d+) failed)");
  for (std::sregex_iterator it(err.begin(), err.end(), drawn), end; it != end; ++it) failed = std::stoi((*it)[1]);
  return failed;
}

int summary_failed(const std::string& err) {
  std::smatch m;
  return std::regex_search(err, m, std::regex(R"(requests: \d+ ok, (\d+) failed)")) ? std::stoi(m[1]) : -1;
}

TEST(FailureCounts, ProgressSummaryAndHintAgreeAndRetryFailedRunsWhatTheHintPromises) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  std::string words;
  for (int i = 0; i < 700; ++i) words += "word ";
  write_text(dir / "in.jsonl",
             line("a", chat("hello")) + "\n" +
                 R"({"custom_id":"not-json","method":"POST","url":"/v1/chat/completions","body":{)" + "\n" +
                 line("tools", chat("hi", R"(,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}])")) + "\n" +
                 line("long", chat(words)) + "\n" + line("negative", R"({"max_tokens":-3,"messages":[{"role":"user","content":"x"}]})") +
                 "\n" + line("b", chat("bye")) + "\n" +
                 R"({"custom_id":"emb","method":"POST","url":"/v1/embeddings","body":{"input":"x","model":"m"}})" + "\n");
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };

  const auto first = run_batchwise(args({"-c", "512"}));
  ASSERT_EQ(first.exit_code, 1) << first.err;
  EXPECT_EQ(first.err.find("resuming"), std::string::npos) << "a first run resumes nothing:\n" << first.err;
  EXPECT_EQ(summary_failed(first.err), 5) << first.err;
  EXPECT_EQ(progress_failed(first.err), 5) << first.err;
  EXPECT_NE(first.err.find("1 input line is not a request"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("1 request did not fit the context: raise --ctx-size"), std::string::npos) << first.err;
  // tools, a negative max_tokens and /v1/embeddings (which the tiny generative model does not serve) fail again as they are
  EXPECT_NE(first.err.find("3 requests were refused as requests"), std::string::npos) << first.err;
  EXPECT_EQ(first.err.find("passing reason"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("--retry-failed runs the 4 failed requests again"), std::string::npos) << first.err;

  // The user raises the context, as told: the hint's 4 run again, the long one now succeeds.
  const auto again = run_batchwise(args({"-c", "4096", "--retry-failed"}));
  ASSERT_EQ(again.exit_code, 1) << again.err;
  EXPECT_NE(again.err.find("--retry-failed: 4 failed requests will run again"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("3 of 7 already done"), std::string::npos) << again.err;
  EXPECT_EQ(summary_failed(again.err), 4) << again.err;
  EXPECT_EQ(progress_failed(again.err), 4) << again.err;
  EXPECT_EQ(again.err.find("did not fit the context"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--endpoint), --retry-failed runs the 3 refused requests again"), std::string::npos) << again.err;
  EXPECT_EQ(read_jsonl(dir / "out.jsonl").size(), 3u);
  EXPECT_EQ(read_jsonl(dir / "out.errors.jsonl").size(), 4u);
}

}  // namespace
}  // namespace batchwise::test
