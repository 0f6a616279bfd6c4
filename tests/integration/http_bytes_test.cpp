// Bytes through (issue 28): `run --endpoint` sends each batch line's body as the input's own bytes and
// writes each answer into the output as the server's own bytes. Against a stub (a test double) that
// answers with odd key order, exponents, unicode escapes, big integers and keys that only look alike.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "stub_openai_server.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(HttpBytes, RequestAndAnswerBodiesGoThroughByteForByte) {
  const std::string answer =
      R"({"usage":{"completion_tokens":1,"prompt_tokens":5},"z":{"b":1,"a":2},"choices":[{"message":)"
      R"({"content":"caf\u00e9 \ud83d\ude00 \"q\"","role":"assistant"},"logprob":1.10e-7,"index":0,)"
      R"("finish_reason":"stop"}],"seed":123456789012345678901234567890,"id":"x","b":1,"b ":2,"\u0062":3,"e":1E+2})";
  auto stub = StubOpenAiServer::start({.ok_body = answer});
  ASSERT_TRUE(stub);
  const auto dir = scratch_dir();
  std::vector<std::string> bodies = {
      R"({"temperature":1.10e-7,"model":"stub","messages":[{"content":"caf\u00e9","role":"user"}],"seed":123456789012345678901234567890})",
      R"({ "messages" : [ {"role":"user","content":"x"} ] , "max_tokens":4, "model":"stub", "z": {"b":1,"a":2} })",
      R"({"model":"stub","messages":[{"role":"user","content":"\ud83d\ude00"}],"logit":-0.0,"top_p":1E0})",
  };
  std::string input;
  for (size_t i = 0; i < bodies.size(); ++i) {
    input += R"({"body":)" + bodies[i] + R"(,"url":"/v1/chat/completions","custom_id":"b-)" + std::to_string(i) +
             R"(","method":"POST"})" + "\n";
  }
  write_text(dir / "in.jsonl", input);
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--endpoint",
                                stub->url(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // What the server got: each line's body, byte for byte.
  std::vector<std::string> sent;
  for (const auto& e : stub->events()) sent.push_back(e.request_body);
  std::sort(sent.begin(), sent.end());
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(sent, bodies);
  // What the output holds: the server's answer, byte for byte, in each line.
  const auto lines = read_lines(dir / "out.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) {
    EXPECT_NE(line.find(R"("body":)" + answer + "}"), std::string::npos) << line;
    const auto parsed = nlohmann::json::parse(line);  // and the line is still one JSON object
    EXPECT_EQ(parsed["response"]["status_code"], 200);
  }
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["tokens"]["prompt"].get<int64_t>(), 15);  // the usage was still read
}

}  // namespace
}  // namespace batchwise::test
