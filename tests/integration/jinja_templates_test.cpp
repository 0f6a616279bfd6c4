// The chat templates of the model families users run (llama.cpp's copies in models/templates/, read from the pinned
// source), each written into a tiny synthetic GGUF with a tokenizer of its kind: the prompt batchwise's engine runs
// for a chat request is, token for token, the one llama-server renders (--jinja, its default: /apply-template)
// and tokenizes (/tokenize, as it tokenizes a prompt) for the same messages.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "engine/llama/chat_template.h"
#include "engine/llama/llama_handles.h"
#include "engine/llama/llama_request_preparer.h"
#include "llama_server_process.h"
#include "model/synth.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

#ifdef LLAMA_SERVER_BIN
struct Family {
  const char* name;      // the test's name
  const char* template_file;
  const char* vocab;     // llama.cpp's models/ggml-vocab-<vocab>.gguf: the family's tokenizer, or one of its kind
};

const Family kFamilies[] = {
    {"Llama31", "meta-llama-Llama-3.1-8B-Instruct.jinja", "llama-bpe"},
    {"Qwen25", "Qwen-Qwen2.5-7B-Instruct.jinja", "qwen2"},
    {"Qwen3", "Qwen-Qwen3-0.6B.jinja", "qwen2"},
    {"MistralNemo", "mistralai-Mistral-Nemo-Instruct-2407.jinja", "llama-spm"},
    {"MistralSmall32", "Mistral-Small-3.2-24B-Instruct-2506.jinja", "llama-spm"},
    {"Gemma2", "google-gemma-2-2b-it.jinja", "llama-spm"},
    {"DeepSeekR1DistillLlama", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "llama-bpe"},
};

const nlohmann::json kConversations = nlohmann::json::parse(R"([
  [{"role": "system", "content": "You are a careful grader."},
   {"role": "user", "content": "Score this answer from 1 to 5: the capital of France is Paris."}],
  [{"role": "user", "content": "Hello!"},
   {"role": "assistant", "content": "Hi, how can I help?"},
   {"role": "user", "content": "What is 2 + 2?"}],
  [{"role": "system", "content": "Answer in one word."},
   {"role": "user", "content": [{"type": "text", "text": "Name a colour"}, {"type": "text", "text": "of the sky."}]}]
])");

// A tool offered, called and answered. The parameters' keys are in sorted order: the embedded engine reads a body
// into a JSON object that sorts them, where llama-server keeps the request's order.
const nlohmann::json kToolRoundTrip = nlohmann::json::parse(R"({
  "messages": [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call12345", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call12345", "content": "18 C"}],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
    "parameters": {"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"}}}]
})");

// A tiny model with `vocab`'s tokenizer and the family's template.
std::filesystem::path family_model(const std::filesystem::path& dir, const Family& f, const std::string& tmpl) {
  auto spec = find_preset("tiny");
  EXPECT_TRUE(spec) << spec.error().message;
  SynthOptions options;
  options.spec = *spec;
  options.spec.vocab = f.vocab;
  options.output = dir / "tiny.gguf";
  options.threads = 2;
  const auto made = synth_model(options);
  EXPECT_TRUE(made) << made.error().message;
  write_model_with_chat_template(options.output, tmpl, dir / "model.gguf");
  return dir / "model.gguf";
}

// POST path body: the answer's status and JSON.
std::pair<int, nlohmann::json> post(httplib::Client& client, const std::string& path, const nlohmann::json& body) {
  auto res = client.Post(path, body.dump(), "application/json");
  EXPECT_TRUE(res) << path << ": " << httplib::to_string(res.error());
  if (!res) return {0, {}};
  return {res->status, nlohmann::json::parse(res->body, nullptr, false)};
}

// llama-server (--jinja, its default) on one family's model, and the model loaded here for batchwise's side.
class JinjaTemplates : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    const Family& f = GetParam();
    const std::string tmpl = read_text(std::filesystem::path(LLAMA_CPP_TEMPLATES_DIR) / f.template_file);
    if (tmpl.empty()) GTEST_SKIP() << "no " << f.template_file << " in " << LLAMA_CPP_TEMPLATES_DIR;
    const auto dir = scratch_dir();
    model_path_ = family_model(dir, f, tmpl);
    std::string error;
    server_ = start_llama_server(LLAMA_SERVER_BIN, model_path_, {"--jinja", "-c", "1024", "-np", "1", "-t", "1"},
                                 dir / "llama-server.log", 120, &error);
    ASSERT_TRUE(server_) << error << "\n" << read_text(dir / "llama-server.log");
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(60);
    init_llama_backend();
    auto model = load_llama_model(model_path_, 0);
    ASSERT_TRUE(model) << model.error().message;
    model_ = std::move(*model);
  }

  // llama-server's prompt for `body`; its error when it refused.
  Expected<std::string> their_prompt(const nlohmann::json& body) {
    const auto [status, answer] = post(*client_, "/apply-template", body);
    if (status != 200 || !answer.contains("prompt")) return make_error(ErrorCode::kServerError, answer.dump());
    return answer["prompt"].get<std::string>();
  }

  std::filesystem::path model_path_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<httplib::Client> client_;
  ModelPtr model_;
};

TEST_P(JinjaTemplates, ThePromptTokensAreLlamaServers) {
  const ChatTemplate ours(model_.get(), "", model_path_.filename().string());
  const RequestPreparer preparer(model_.get(), model_path_.filename().string(), 1 << 20, "the test's limit");
  for (const auto& messages : kConversations) {
    const nlohmann::json body = {{"messages", messages}};
    const auto their = their_prompt(body);
    ASSERT_TRUE(their) << their.error().message;
    const std::string their_prompt = *their;
    const auto [status, tokenized] =
        post(*client_, "/tokenize", {{"content", their_prompt}, {"add_special", true}, {"parse_special", true}});
    ASSERT_EQ(status, 200) << tokenized;
    const auto their_tokens = tokenized["tokens"];

    const auto our_prompt = ours.render(body);
    ASSERT_TRUE(our_prompt) << our_prompt.error().message;
    EXPECT_EQ(*our_prompt, their_prompt) << messages;
    EngineRequest request;
    request.kind = ApiKind::kChatCompletions;
    request.body = body;
    const PreparedRequest prepared = preparer.prepare(std::move(request));
    ASSERT_FALSE(prepared.error) << prepared.error->message;
    EXPECT_EQ(nlohmann::json(prepared.prompt), their_tokens) << messages;
  }
}

// Text only: the embedded engine refuses `tools` today (it does not parse tool calls out of an answer), but the
// template gets them, and the calls and results of earlier turns, as llama-server gives them.
TEST_P(JinjaTemplates, ToolsAndToolTurnsRenderAsLlamaServers) {
  const ChatTemplate ours(model_.get(), "", model_path_.filename().string());
  const auto their = their_prompt(kToolRoundTrip);
  const auto our = ours.render(kToolRoundTrip);
  if (!their) {  // Gemma 2's template raises on a tool turn: both refuse
    EXPECT_FALSE(our) << "llama-server refused: " << their.error().message << "\nbatchwise rendered: " << *our;
    return;
  }
  ASSERT_TRUE(our) << our.error().message;
  EXPECT_EQ(*our, *their);
}

INSTANTIATE_TEST_SUITE_P(Families, JinjaTemplates, ::testing::ValuesIn(kFamilies),
                         [](const ::testing::TestParamInfo<Family>& info) { return std::string(info.param.name); });
#endif

}  // namespace
}  // namespace batchwise::test
