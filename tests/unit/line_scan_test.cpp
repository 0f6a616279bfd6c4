// LineScan: one pass over a batch line keeps what dispatch needs, and where the body's own bytes lie.
#include "job/line_scan.h"

#include <gtest/gtest.h>

#include "core/json_read.h"

namespace batchwise {
namespace {

std::string_view body_of(std::string_view line, const ScannedLine& s) { return line.substr(s.body_offset, s.body_length); }

TEST(LineScan, AValidLineGivesItsFieldsAndTheBodysExactBytes) {
  const std::string line =
      R"({"custom_id":"a-1","method":"POST","url":"/v1/chat/completions","priority":3,)"
      R"("body":{"temperature":1.10e-7,"model":"m","messages":[{"role":"user","content":"caf\u00e9 rubric"}],)"
      R"("seed":123456789012345678901234567890}})";
  ScannedLine s;
  ASSERT_EQ(scan_line(line, s), "");
  EXPECT_EQ(s.custom_id, "a-1");
  EXPECT_EQ(s.kind, ApiKind::kChatCompletions);
  EXPECT_EQ(s.priority, 3);
  EXPECT_EQ(body_of(line, s),
            R"({"temperature":1.10e-7,"model":"m","messages":[{"role":"user","content":"caf\u00e9 rubric"}],)"
            R"("seed":123456789012345678901234567890})");
}

TEST(LineScan, EqualPromptStartsGiveEqualPrefixKeysWhateverTheOtherFields) {
  ScannedLine a, b, c;
  ASSERT_EQ(scan_line(R"({"custom_id":"a","url":"/v1/chat/completions","body":{"messages":[{"role":"system","content":"RUBRIC"}],"max_tokens":1}})", a), "");
  ASSERT_EQ(scan_line(R"({"body":{"max_tokens":9,"messages":[{"content":"RUBRIC","role":"system"}]},"url":"/v1/chat/completions","custom_id":"b"})", b), "");
  ASSERT_EQ(scan_line(R"({"custom_id":"c","url":"/v1/completions","body":{"prompt":"OTHER"}})", c), "");
  EXPECT_EQ(a.prefix_key, b.prefix_key);
  EXPECT_NE(a.prefix_key, c.prefix_key);
}

// A /v1/responses line's prompt starts with its instructions (the first message), then its input: a line that
// puts the same text in a system message of its input starts the same prompt, whatever the key order.
TEST(LineScan, ResponsesLinesKeyTheirPromptByInstructionsThenInput) {
  ScannedLine a, b, c, parts;
  ASSERT_EQ(scan_line(R"({"custom_id":"a","url":"/v1/responses","body":{"input":"CANDIDATE","instructions":"RUBRIC"}})", a), "");
  ASSERT_EQ(scan_line(R"({"custom_id":"b","url":"/v1/responses","body":{"input":[{"role":"system","content":"RUBRIC"},)"
                      R"({"role":"user","content":"CANDIDATE"}]}})", b), "");
  ASSERT_EQ(scan_line(R"({"custom_id":"c","url":"/v1/responses","body":{"input":"RUBRIC"}})", c), "");
  ASSERT_EQ(scan_line(R"({"custom_id":"p","url":"/v1/responses","body":{"instructions":"RUBRIC","input":[{"role":"user",)"
                      R"("content":[{"type":"input_text","text":"CANDIDATE"}]}]}})", parts), "");
  EXPECT_EQ(a.kind, ApiKind::kResponses);
  EXPECT_EQ(a.prefix_key, b.prefix_key);
  EXPECT_EQ(a.prefix_key, parts.prefix_key) << "text parts count as the message's content";
  EXPECT_NE(a.prefix_key, c.prefix_key);
  // Chat's text parts too.
  ScannedLine chat_string, chat_parts;
  ASSERT_EQ(scan_line(R"({"custom_id":"s","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"AB"}]}})", chat_string), "");
  ASSERT_EQ(scan_line(R"({"custom_id":"t","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":)"
                      R"([{"type":"text","text":"A"},{"type":"text","text":"B"}]}]}})", chat_parts), "");
  EXPECT_EQ(chat_string.prefix_key, chat_parts.prefix_key);
}

TEST(LineScan, ARepeatedKeyCountsAsTheLastAsAParserKeepsIt) {
  const std::string line = R"({"custom_id":"x","url":"/v1/completions","body":{"prompt":"first"},"body":{"prompt":"second"}})";
  ScannedLine s;
  ASSERT_EQ(scan_line(line, s), "");
  EXPECT_EQ(body_of(line, s), R"({"prompt":"second"})");
  ScannedLine t;
  EXPECT_EQ(scan_line(R"({"custom_id":"x","url":"/v1/completions","body":{"prompt":"p"},"body":3})", t),
            "field `body` missing or not an object");
}

TEST(LineScan, BadLinesSayWhatIsWrongAndKeepTheCustomIdForTheErrorLine) {
  ScannedLine s;
  EXPECT_EQ(scan_line("{not json", s), "not valid JSON (each line must be one JSON object)");
  EXPECT_EQ(scan_line("[1,2]", s), "must be a JSON object");
  EXPECT_EQ(scan_line(R"({"custom_id":1,"url":"/v1/completions","body":{}})", s),
            "field `custom_id` missing or not a non-empty string");
  ScannedLine m;
  EXPECT_EQ(scan_line(R"({"custom_id":"m","method":"GET","url":"/v1/completions","body":{}})", m), "field `method` must be \"POST\"");
  EXPECT_EQ(m.custom_id, "m");
  EXPECT_EQ(scan_line(R"({"custom_id":"m","body":{}})", m), "field `url` missing");
  EXPECT_EQ(scan_line(R"({"custom_id":"m","url":"/v1/images","body":{}})", m).rfind("unknown url `/v1/images`", 0), 0u);
  EXPECT_EQ(scan_line(R"({"custom_id":"m","url":"/v1/completions","body":{},"priority":1.5})", m),
            "field `priority` must be a 32-bit integer");
  EXPECT_EQ(scan_line(R"({"custom_id":"m","url":"/v1/completions","body":{},"priority":4294967296})", m),
            "field `priority` must be a 32-bit integer");
}

TEST(LineScan, DeepNestingIsRefusedWithoutRecursionAndTheCustomIdAfterItIsStillFound) {
  const std::string deep(100000, '[');
  const std::string line = R"({"body":{"x":)" + deep + std::string(100000, ']') + R"(},"custom_id":"deep","url":"/v1/completions"})";
  ScannedLine s;
  EXPECT_EQ(scan_line(line, s), "JSON nests deeper than 128 levels (the limit per line); flatten the body");
  EXPECT_EQ(s.custom_id, "deep");
}

TEST(JsonSpan, FindsTopLevelValuesPastStringsThatLookLikeStructure) {
  const std::string text = R"({"a":"}\"{,","body" : { "k": [1, "]"] } ,"n":-1.5e3})";
  const auto [off, len] = json_top_level_value_span(text, "body");
  EXPECT_EQ(text.substr(off, len), R"({ "k": [1, "]"] })");
  const auto [noff, nlen] = json_top_level_value_span(text, "n");
  EXPECT_EQ(text.substr(noff, nlen), "-1.5e3");
  EXPECT_EQ(json_top_level_value_span(text, "k").second, 0u);  // not at the top level
}

}  // namespace
}  // namespace batchwise
