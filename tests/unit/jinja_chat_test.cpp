// JinjaChatTemplate: what a template sees of a chat request and what comes back, as llama-server's defaults give it
// (tests/integration/jinja_templates_test.cpp compares real models' templates with llama-server itself).
#include "engine/llama/jinja_chat/jinja_chat.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace batchwise {
namespace {

constexpr const char* kSimple =
    "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}{{ eos_token }}";

nlohmann::json messages(const char* json) { return nlohmann::json::parse(json); }

std::string render(const std::string& source, const nlohmann::json& msgs, ChatSpecialTokens tokens = {}) {
  auto t = JinjaChatTemplate::parse(source, std::move(tokens));
  EXPECT_TRUE(t) << t.error().message;
  if (!t) return "";
  auto out = t->render(msgs, nullptr);
  EXPECT_TRUE(out) << out.error().message;
  return out ? *out : "";
}

Error render_error(const std::string& source, const nlohmann::json& msgs) {
  auto t = JinjaChatTemplate::parse(source);
  EXPECT_TRUE(t) << t.error().message;
  auto out = t->render(msgs, nullptr);
  EXPECT_FALSE(out) << *out;
  return out ? Error{} : out.error();
}

TEST(JinjaChat, RendersTheMessagesAndAGenerationPrompt) {
  EXPECT_EQ(render(kSimple, messages(R"([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])")),
            "<system>s</system><user>u</user><assistant>");
}

TEST(JinjaChat, ABosOrEosTextTheTokenizerAddsItselfIsDropped) {
  const auto msgs = messages(R"([{"role": "user", "content": "u"}])");
  EXPECT_EQ(render(kSimple, msgs, {"<s>", "</s>", false, false}), "<s><user>u</user><assistant></s>");
  EXPECT_EQ(render(kSimple, msgs, {"<s>", "</s>", true, false}), "<user>u</user><assistant></s>");
  EXPECT_EQ(render(kSimple, msgs, {"<s>", "</s>", true, true}), "<user>u</user><assistant>");
}

TEST(JinjaChat, ATemplateWithoutASystemRoleGetsTheSystemPromptInFrontOfTheFirstMessage) {
  const std::string gemma_like =
      "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
      std::string(kSimple);
  EXPECT_EQ(render(gemma_like, messages(R"([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])")),
            "<user>s\nu</user><assistant>");
  EXPECT_EQ(render(gemma_like, messages(R"([{"role": "system", "content": "s"}])")), "<assistant>");
}

TEST(JinjaChat, TextPartsAreJoinedByNewlinesForATemplateThatReadsStrings) {
  EXPECT_EQ(render(kSimple, messages(R"([{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                          {"type": "text", "text": "b"}]}])")),
            "<user>a\nb</user><assistant>");
}

TEST(JinjaChat, ATemplateThatReadsOnlyPartsGetsAStringAsOnePart) {
  const char* parts_only =
      "{% for m in messages %}{% for p in m.content %}[{{ p.type }}:{{ p.text }}]{% endfor %}{% endfor %}";
  EXPECT_EQ(render(parts_only, messages(R"([{"role": "user", "content": "u"}])")), "[text:u]");
}

TEST(JinjaChat, TheDeveloperRoleIsTheSystemRole) {
  EXPECT_EQ(render(kSimple, messages(R"([{"role": "developer", "content": "d"}])")), "<system>d</system><assistant>");
}

TEST(JinjaChat, TheTemplateSeesThinkingReasoningAndTheDateAsLlamaServerSetsThem) {
  const char* vars =
      "{{ enable_thinking }} {{ preserve_reasoning }} {{ preserve_thinking }} {{ clear_thinking }} "
      "{{ date_string | length > 0 }} {{ tools is defined }}";
  EXPECT_EQ(render(vars, messages(R"([{"role": "user", "content": "u"}])")), "True True True False True False");
}

TEST(JinjaChat, ToolsAndToolCallsComeInLlamaServersShape) {
  auto t = JinjaChatTemplate::parse(
      "{{ tools | tojson }}|{% for m in messages %}{{ m.tool_calls | tojson }}{% endfor %}");
  ASSERT_TRUE(t) << t.error().message;
  const auto out = t->render(messages(R"([{"role": "assistant", "content": null, "tool_calls": [
                                   {"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]}])"),
                             nlohmann::json::parse(R"([{"type": "function", "function": {"name": "f"}}])"));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out,
            R"([{"type": "function", "function": {"name": "f", "description": "", "parameters": {}}}])"
            R"(|[{"type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}])");
}

TEST(JinjaChat, ARaisedExceptionIsTheTemplatesOwnWords) {
  const Error e = render_error("{{ raise_exception('Conversation roles must alternate') }}",
                               messages(R"([{"role": "user", "content": "u"}])"));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.message, "the model's chat template refused these messages: Conversation roles must alternate");
}

TEST(JinjaChat, AnotherFailureSaysWhereOnOneLine) {
  const Error e = render_error("{{ messages | no_such_filter }}", messages(R"([{"role": "user", "content": "u"}])"));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);  // as the template and the request are, it fails again
  EXPECT_NE(e.message.find("no_such_filter"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
}

TEST(JinjaChat, JinjaThatDoesNotParseSaysSo) {
  const auto t = JinjaChatTemplate::parse("{% for m in messages %}{{ m.content }}");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(t.error().message.rfind("its Jinja does not parse: ", 0), 0u) << t.error().message;
}

TEST(JinjaChat, AMalformedFieldIsNamed) {
  auto t = JinjaChatTemplate::parse(kSimple);
  ASSERT_TRUE(t);
  const auto bad_reasoning = t->render(messages(R"([{"role": "user", "content": "u", "reasoning_content": 5}])"), nullptr);
  ASSERT_FALSE(bad_reasoning);
  EXPECT_EQ(bad_reasoning.error().message, "body field `messages[0].reasoning_content` must be a string");
  const auto bad_calls = t->render(messages(R"([{"role": "assistant", "tool_calls": {"id": 1}}])"), nullptr);
  ASSERT_FALSE(bad_calls);
  EXPECT_EQ(bad_calls.error().message, "body field `messages[0].tool_calls` must be an array");
  const auto bad_tools = t->render(messages(R"([{"role": "user", "content": "u"}])"), nlohmann::json::parse(R"([1])"));
  ASSERT_FALSE(bad_tools);
  EXPECT_NE(bad_tools.error().message.find("`tools[0]`"), std::string::npos) << bad_tools.error().message;
}

TEST(JinjaChat, OneTemplateRendersOnSeveralThreadsAtOnce) {
  auto t = JinjaChatTemplate::parse(kSimple);
  ASSERT_TRUE(t);
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      const auto msgs = nlohmann::json::array({{{"role", "user"}, {"content", std::to_string(i)}}});
      const std::string expected = "<user>" + std::to_string(i) + "</user><assistant>";
      for (int n = 0; n < 200; ++n) wrong[i] += t->render(msgs, nullptr).value_or("") != expected;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace batchwise
