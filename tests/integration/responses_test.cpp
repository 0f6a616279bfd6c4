// /v1/responses lines (OpenAI's Responses API in a batch file): the embedded engine answers one as it answers the
// chat request that says the same (same prompt tokens, same greedy text), in the Responses object's shape; text.format
// constrains it like response_format; what it cannot do fails the line by the Responses field's name. Through
// --endpoint, llama-server's own /v1/responses answers, and counts the same prompt tokens as the embedded engine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llama_server_process.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

const char* const kRubric = "You grade candidates from 0 to 10.";
const char* const kCandidate = "Candidate 7 wrote a parser in a weekend.";

nlohmann::json responses_line(const std::string& id, const nlohmann::json& body) {
  nlohmann::json b = {{"model", "tiny"}};
  for (const auto& [k, v] : body.items()) b[k] = v;
  return {{"custom_id", id}, {"method", "POST"}, {"url", "/v1/responses"}, {"body", b}};
}

// The rubric as instructions and the candidate as an input_text part.
nlohmann::json graded(int max_output_tokens) {
  return {{"instructions", kRubric},
          {"input", {{{"role", "user"}, {"content", {{{"type", "input_text"}, {"text", kCandidate}}}}}}},
          {"max_output_tokens", max_output_tokens},
          {"temperature", 0}};
}

std::string output_text(const nlohmann::json& response_body) {
  std::string text;
  for (const auto& item : response_body["output"]) {
    for (const auto& part : item["content"]) {
      if (part["type"] == "output_text") text += part["text"].get<std::string>();
    }
  }
  return text;
}

TEST(Responses, AnsweredAsTheChatRequestThatSaysTheSame) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  // Each alone in its own run at one sequence: the same prompt goes through the same batch shapes, so the greedy
  // tokens are the same bits of arithmetic (llama.cpp is not batch-invariant; this compares like with like).
  write_text(dir / "responses.jsonl", responses_line("r", graded(12)).dump() + "\n");
  const nlohmann::json chat = {
      {"custom_id", "c"},
      {"method", "POST"},
      {"url", "/v1/chat/completions"},
      {"body",
       {{"model", "tiny"},
        {"messages", {{{"role", "system"}, {"content", kRubric}}, {{"role", "user"}, {"content", kCandidate}}}},
        {"max_tokens", 12},
        {"temperature", 0}}}};
  write_text(dir / "chat.jsonl", chat.dump() + "\n");
  for (const char* name : {"responses", "chat"}) {
    const auto r = run_batchwise({"run", (dir / (std::string(name) + ".jsonl")).string(), "-o",
                                  (dir / (std::string(name) + ".out.jsonl")).string(), "-np", "1", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto r_out = read_jsonl(dir / "responses.out.jsonl");
  const auto c_out = read_jsonl(dir / "chat.out.jsonl");
  ASSERT_EQ(r_out.size(), 1u);
  ASSERT_EQ(c_out.size(), 1u);
  const auto& rb = r_out[0]["response"]["body"];
  const auto& cb = c_out[0]["response"]["body"];
  EXPECT_EQ(rb["object"], "response");
  EXPECT_EQ(rb["model"], "tiny");
  EXPECT_TRUE(rb["id"].get<std::string>().starts_with("resp_"));
  ASSERT_EQ(rb["output"].size(), 1u);
  EXPECT_EQ(rb["output"][0]["type"], "message");
  EXPECT_EQ(rb["output"][0]["role"], "assistant");
  EXPECT_EQ(output_text(rb), cb["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_EQ(rb["usage"]["input_tokens"], cb["usage"]["prompt_tokens"]);
  EXPECT_EQ(rb["usage"]["output_tokens"], cb["usage"]["completion_tokens"]);
  EXPECT_EQ(rb["usage"]["total_tokens"], cb["usage"]["total_tokens"]);
  // Cut by max_output_tokens: "incomplete", as OpenAI says it; a natural end is "completed".
  if (cb["choices"][0]["finish_reason"] == "length") {
    EXPECT_EQ(rb["status"], "incomplete");
    EXPECT_EQ(rb["incomplete_details"]["reason"], "max_output_tokens");
  } else {
    EXPECT_EQ(rb["status"], "completed");
    EXPECT_TRUE(rb["incomplete_details"].is_null());
  }
  EXPECT_EQ(rb["instructions"], kRubric) << "the request's settings are echoed";
}

TEST(Responses, TextFormatConstrainsAndRefusedFieldsFailTheirLineByName) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  const nlohmann::json schema = {{"type", "object"},
                                 {"properties", {{"score", {{"type", "integer"}, {"minimum", 0}, {"maximum", 10}}}}},
                                 {"required", {"score"}},
                                 {"additionalProperties", false}};
  nlohmann::json scored = graded(64);
  scored["text"] = {{"format", {{"type", "json_schema"}, {"name", "score"}, {"strict", true}, {"schema", schema}}}};
  std::string input = responses_line("scored", scored).dump() + "\n";
  const nlohmann::json image_part = {{"type", "input_image"}, {"image_url", "https://x/y.png"}};
  input += responses_line("image", {{"input", {{{"role", "user"}, {"content", {image_part}}}}}}).dump() + "\n";
  input += responses_line("chained", {{"input", "next"}, {"previous_response_id", "resp_1"}}).dump() + "\n";
  const nlohmann::json tool_output = {{"type", "function_call_output"}, {"call_id", "c"}, {"output", "1"}};
  input += responses_line("tool-output", {{"input", {tool_output}}}).dump() + "\n";
  input += responses_line("plain", {{"input", kCandidate}, {"max_output_tokens", 4}}).dump() + "\n";
  write_text(dir / "in.jsonl", input);
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "-q"});
  ASSERT_EQ(r.exit_code, 1) << r.err;  // the job finished, with failures
  const auto ok = lines_by_id(read_jsonl(dir / "out.jsonl"));
  const auto failed = lines_by_id(read_jsonl(dir / "out.errors.jsonl"));
  ASSERT_EQ(ok.size(), 2u);
  ASSERT_EQ(failed.size(), 3u);
  const auto score = nlohmann::json::parse(output_text(ok.at("scored")["response"]["body"]), nullptr, false);
  ASSERT_TRUE(score.is_object()) << output_text(ok.at("scored")["response"]["body"]);
  ASSERT_TRUE(score["score"].is_number_integer());
  EXPECT_GE(score["score"].get<int>(), 0);
  EXPECT_LE(score["score"].get<int>(), 10);
  EXPECT_EQ(ok.at("plain")["response"]["body"]["usage"]["output_tokens"], 4);
  const std::pair<const char*, const char*> named[] = {
      {"image", "`input[0].content[0]`"}, {"chained", "`previous_response_id`"}, {"tool-output", "`input[0]`"}};
  for (const auto& [id, field] : named) {
    const auto& error = failed.at(id)["error"];
    EXPECT_EQ(error["code"], "invalid_request") << id;
    EXPECT_NE(error["message"].get<std::string>().find(field), std::string::npos) << error.dump();
  }
}

#ifdef LLAMA_SERVER_BIN
// llama-server turns a Responses body into a chat request itself: the same prompt tokens as the embedded engine
// counts for each line is the check that both read instructions, parts and history alike.
TEST(Responses, LlamaServerAnswersThemThroughEndpointWithTheSamePromptTokens) {
  const auto dir = scratch_dir();
  const auto model = dir / "tiny.gguf";
  ASSERT_EQ(run_batchwise({"synth", "-m", "tiny", "-o", model.string()}).exit_code, 0);
  nlohmann::json history = graded(6);
  history["input"].push_back(
      {{"type", "message"},
       {"role", "assistant"},
       {"content", {{{"type", "output_text"}, {"text", "7"}, {"annotations", nlohmann::json::array()}}}}});
  history["input"].push_back({{"role", "user"}, {"content", "Why?"}});
  std::string input = responses_line("graded", graded(6)).dump() + "\n";
  input += responses_line("string", {{"input", kCandidate}, {"max_output_tokens", 6}}).dump() + "\n";
  input += responses_line("history", history).dump() + "\n";
  write_text(dir / "in.jsonl", input);
  std::string error;
  auto server = start_llama_server(LLAMA_SERVER_BIN, model, {"--jinja", "-np", "2", "-c", "4096", "-t", "1"},
                                   dir / "llama-server.log", 60, &error);
  ASSERT_TRUE(server) << error;
  const auto served = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "server.jsonl").string(),
                                     "--endpoint", server->url(), "--max-concurrency", "2", "--json"});
  ASSERT_EQ(served.exit_code, 0) << served.err << "\n" << read_text(dir / "llama-server.log").substr(0, 4000);
  const auto embedded = run_batchwise(
      {"run", (dir / "in.jsonl").string(), "-o", (dir / "embedded.jsonl").string(), "-m", model.string(), "-q"});
  ASSERT_EQ(embedded.exit_code, 0) << embedded.err;
  const auto by_server = lines_by_id(read_jsonl(dir / "server.jsonl"));
  const auto by_embedded = lines_by_id(read_jsonl(dir / "embedded.jsonl"));
  ASSERT_EQ(by_server.size(), 3u);
  ASSERT_EQ(by_embedded.size(), 3u);
  int64_t prompt_tokens = 0;
  for (const auto& [id, line] : by_server) {
    const auto& body = line["response"]["body"];
    EXPECT_EQ(body["object"], "response") << body.dump();
    EXPECT_GT(body["usage"]["output_tokens"].get<int64_t>(), 0) << id;
    EXPECT_EQ(body["usage"]["input_tokens"], by_embedded.at(id)["response"]["body"]["usage"]["input_tokens"]) << id;
    prompt_tokens += body["usage"]["input_tokens"].get<int64_t>();
  }
  EXPECT_EQ(nlohmann::json::parse(served.out)["tokens"]["prompt"].get<int64_t>(), prompt_tokens)
      << "run's report reads the Responses API's usage";
}
#endif

}  // namespace
}  // namespace batchwise::test
