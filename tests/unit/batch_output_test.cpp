// Output lines in OpenAI's batch format, with the stored answer spliced in as it came.
#include "job/batch_output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace batchwise {
namespace {

// Issue 28: a body parsed and dumped again came out with its keys re-sorted and 1.10e-7 as 1.1e-07.
TEST(OutputLine, TheStoredBodyIsSplicedInByteForByte) {
  ResultRecord r;
  r.line = 7;
  r.custom_id = "q\"7";
  r.ok = true;
  r.status_code = 200;
  r.body = R"({"z":{"b":1,"a":2},"p":1.10e-7,"t":"caf\u00e9 \ud83d\ude00","n":123456789012345678901234567890,"b":1,"b ":2})";
  const std::string line = format_output_line(r);
  EXPECT_NE(line.find(R"("body":)" + r.body + "}"), std::string::npos) << line;
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["custom_id"], "q\"7");
  EXPECT_EQ(parsed["id"], "batch_req_7");
  EXPECT_TRUE(parsed["error"].is_null());
  r.body = "{\n  \"a\": 1\n}\n";  // pretty-printed by a server: one JSONL line still
  EXPECT_EQ(format_output_line(r).find('\n'), std::string::npos);
  EXPECT_TRUE(nlohmann::json::accept(format_output_line(r)));
}

TEST(OutputLine, AnErrorAnswerThatIsNotJsonBecomesItsMessage) {
  ResultRecord r;
  r.line = 2;
  r.custom_id = "e";
  r.status_code = 502;
  r.body = "<html>Bad Gateway</html>";
  r.error_code = "server_error";
  r.error_message = "HTTP 502";
  const auto parsed = nlohmann::json::parse(format_output_line(r));
  EXPECT_EQ(parsed["response"]["body"]["error"]["message"], "<html>Bad Gateway</html>");
  EXPECT_EQ(parsed["error"]["code"], "server_error");
  r.body = R"({"error":{"message":"x","code":1.0E+2}})";
  EXPECT_NE(format_output_line(r).find(r.body), std::string::npos);
}

}  // namespace
}  // namespace batchwise
