// response_format on the embedded engine: a scoring rubric that asks for {"score": N} gets JSON that
// parses and matches its schema even from the tiny random-weight model (the grammar forces it, the
// weights cannot); json_object gets an object; fields the engine cannot serve fail their line by name,
// and the rest of the job goes on.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace batchwise {
namespace {

nlohmann::json chat_line(const std::string& id, const nlohmann::json& extra) {
  nlohmann::json body = {{"model", "tiny"},
                         {"messages", {{{"role", "user"}, {"content", "Score this candidate from 0 to 10."}}}},
                         {"max_tokens", 24}};
  for (const auto& [k, v] : extra.items()) body[k] = v;
  return {{"custom_id", id}, {"method", "POST"}, {"url", "/v1/chat/completions"}, {"body", body}};
}

std::string content_of(const nlohmann::json& line) {
  return line["response"]["body"]["choices"][0]["message"]["content"].get<std::string>();
}

TEST(StructuredOutput, JsonSchemaAndJsonObjectParseOnTheTinyModel) {
  test::ensure_tiny_model();
  const auto dir = test::scratch_dir();
  const nlohmann::json schema = {{"type", "object"},
                                 {"properties", {{"score", {{"type", "integer"}, {"minimum", 0}, {"maximum", 10}}}}},
                                 {"required", {"score"}},
                                 {"additionalProperties", false}};
  std::string input;
  for (int i = 0; i < 6; ++i) {
    nlohmann::json extra = {{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "score"}, {"schema", schema}}}}},
                            {"max_tokens", 64}};
    if (i % 2) extra["temperature"] = 1.0;  // sampled as well as greedy
    else extra["temperature"] = 0;
    input += chat_line("s" + std::to_string(i), extra).dump() + "\n";
  }
  input += chat_line("obj", {{"response_format", {{"type", "json_object"}}}, {"temperature", 0}, {"max_tokens", 16}}).dump() + "\n";
  test::write_text(dir / "in.jsonl", input);
  const auto r = test::run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "-np", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = test::read_jsonl(dir / "out.jsonl");
  ASSERT_EQ(out.size(), 7u);
  for (const auto& line : out) {
    const std::string text = content_of(line);
    if (line["custom_id"] == "obj") {
      // Any object is allowed, so random weights may write one long string key until max_tokens: the
      // grammar guarantees the start and that the text stays valid so far; it parses when it finished.
      EXPECT_TRUE(text.starts_with("{")) << text;
      if (line["response"]["body"]["choices"][0]["finish_reason"] == "stop") {
        EXPECT_TRUE(nlohmann::json::parse(text, nullptr, false).is_object()) << text;
      }
      continue;
    }
    const auto parsed = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << line["custom_id"] << ": not JSON: " << text;
    ASSERT_TRUE(parsed.is_object()) << text;
    ASSERT_EQ(parsed.size(), 1u) << text;
    ASSERT_TRUE(parsed["score"].is_number_integer()) << text;
    EXPECT_GE(parsed["score"].get<int>(), 0);
    EXPECT_LE(parsed["score"].get<int>(), 10);
  }
}

TEST(StructuredOutput, UnsupportedFieldsFailTheirLineByName) {
  test::ensure_tiny_model();
  const auto dir = test::scratch_dir();
  std::string input;
  input += chat_line("tools", {{"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}}).dump() + "\n";
  input += chat_line("bias", {{"logit_bias", {{"42", 5}}}}).dump() + "\n";
  input += chat_line("n2", {{"n", 2}}).dump() + "\n";
  input += chat_line("bad-format", {{"response_format", {{"type", "yaml"}}}}).dump() + "\n";
  input += chat_line("bad-schema", {{"response_format", {{"type", "json_schema"},
                                                        {"json_schema", {{"name", "x"}, {"schema", {{"$ref", "#/nowhere"}}}}}}}})
               .dump() + "\n";
  input += chat_line("fine", {{"max_tokens", 2}, {"seed", 7}, {"logprobs", true}, {"top_logprobs", 2}}).dump() + "\n";
  test::write_text(dir / "in.jsonl", input);
  const auto r = test::run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "-np", "4"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto out = test::read_jsonl(dir / "out.jsonl");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["custom_id"], "fine");
  EXPECT_TRUE(out[0]["response"]["body"]["choices"][0].contains("logprobs"));
  std::map<std::string, std::string> messages;
  for (const auto& e : test::read_jsonl(dir / "out.errors.jsonl")) {
    messages[e["custom_id"].get<std::string>()] = e.dump();
  }
  ASSERT_EQ(messages.size(), 5u);
  EXPECT_NE(messages["bad-schema"].find("`response_format.json_schema.schema` cannot be turned into a grammar"),
            std::string::npos) << messages["bad-schema"];
  EXPECT_NE(messages["tools"].find("`tools` is not supported"), std::string::npos) << messages["tools"];
  EXPECT_NE(messages["bias"].find("`logit_bias` is not supported"), std::string::npos) << messages["bias"];
  EXPECT_NE(messages["n2"].find("`n` must be 1"), std::string::npos) << messages["n2"];
  EXPECT_NE(messages["bad-format"].find("`response_format.type` must be text, json_object or json_schema"),
            std::string::npos) << messages["bad-format"];
}

}  // namespace
}  // namespace batchwise
