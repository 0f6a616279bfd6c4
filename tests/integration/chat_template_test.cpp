// Chat templates as a user meets them: a GGUF's own template is rendered as Jinja by llama.cpp's engine, even one
// llama.cpp's built-in list does not know; --chat-template takes a built-in's name or any Jinja file; a template
// that raises fails its own line and the run goes on; a file whose Jinja does not parse is a usage error.
// (jinja_templates_test.cpp checks real models' templates against llama-server, token for token.)
#include <gtest/gtest.h>

#include <string>

#include "model/synth.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

std::string chat_line(const std::string& id, const std::string& user = "hello there") {
  return R"({"custom_id":")" + id +
         R"(","method":"POST","url":"/v1/chat/completions","body":{"max_tokens":4,"temperature":0,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":")" +
         user + R"("}]}})";
}

std::string completion_line(const std::string& id, const std::string& prompt_json) {
  return R"({"custom_id":")" + id +
         R"(","method":"POST","url":"/v1/completions","body":{"max_tokens":4,"temperature":0,"prompt":)" +
         prompt_json + "}}";
}

// Markers no built-in of llama.cpp's knows: before Jinja, every chat line of such a model failed.
constexpr const char* kOddTemplate =
    "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] "
    "{% endif %}";

// `batchwise run DIR/in.jsonl -o DIR/OUT -m MODEL EXTRA...`
CommandResult run_in(const std::filesystem::path& dir, const std::filesystem::path& model, const std::string& out,
                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"run", (dir / "in.jsonl").string(), "-o", (dir / out).string(), "-m", model.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_batchwise(args);
}

TEST(ChatTemplate, ATemplateTheBuiltInsDoNotKnowRendersAsJinjaAndABuiltInNameStillReplacesIt) {
  const auto dir = scratch_dir();
  ensure_tiny_model();
  const auto odd = dir / "odd-template.gguf";
  write_model_with_chat_template(*default_tiny_model(), kOddTemplate, odd);
  // The chat line, and the prompt the template renders for it sent as a raw completion: the same tokens in,
  // so the same greedy answer out.
  write_text(dir / "in.jsonl", chat_line("chat") + "\n" +
                                   completion_line("raw", R"("[system] Be brief.\n[user] hello there\n[assistant] ")") +
                                   "\n");
  auto run = [&](const std::filesystem::path& model, const std::string& out, std::vector<std::string> extra) {
    return run_in(dir, model, out, std::move(extra));
  };
  const auto jinja = run(odd, "jinja.jsonl", {});
  ASSERT_EQ(jinja.exit_code, 0) << jinja.err;
  auto results = lines_by_id(read_jsonl(dir / "jinja.jsonl"));
  const auto& chat = results["chat"]["response"]["body"];
  const auto& raw = results["raw"]["response"]["body"];
  EXPECT_EQ(chat["usage"]["prompt_tokens"], raw["usage"]["prompt_tokens"]) << chat << raw;
  EXPECT_EQ(chat["choices"][0]["message"]["content"], raw["choices"][0]["text"]) << chat << raw;

  // A built-in's name replaces the GGUF's template: llama3 renders the tiny model's own (a Llama 3 template).
  const auto original = run(*default_tiny_model(), "original.jsonl", {});
  ASSERT_EQ(original.exit_code, 0) << original.err;
  const auto llama3 = run(odd, "llama3.jsonl", {"--chat-template", "llama3"});
  ASSERT_EQ(llama3.exit_code, 0) << llama3.err;
  auto prompt_tokens = [](const std::filesystem::path& out) {
    return lines_by_id(read_jsonl(out))["chat"]["response"]["body"]["usage"]["prompt_tokens"];
  };
  EXPECT_EQ(prompt_tokens(dir / "llama3.jsonl"), prompt_tokens(dir / "original.jsonl"));
  EXPECT_NE(prompt_tokens(dir / "llama3.jsonl"), prompt_tokens(dir / "jinja.jsonl"));

  const auto typo = run(odd, "typo.jsonl", {"--chat-template", "llama-3"});
  EXPECT_EQ(typo.exit_code, 2) << typo.err;
  EXPECT_NE(typo.err.find("neither one of llama.cpp's built-in templates nor a file"), std::string::npos) << typo.err;
  EXPECT_NE(typo.err.find("llama3"), std::string::npos) << typo.err;
}

TEST(ChatTemplate, ATemplateThatRaisesFailsItsOwnLineAndTheRunGoesOn) {
  const auto dir = scratch_dir();
  ensure_tiny_model();
  write_text(dir / "raises.jinja",
             "{% if messages[-1].content == 'refuse me' %}{{ raise_exception('x') }}{% endif %}" + std::string(kOddTemplate));
  write_text(dir / "in.jsonl", chat_line("a") + "\n" + chat_line("refused", "refuse me") + "\n" + chat_line("c") + "\n");
  const auto r = run_in(dir, *default_tiny_model(), "out.jsonl", {"--chat-template", (dir / "raises.jinja").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto ok = lines_by_id(read_jsonl(dir / "out.jsonl"));
  EXPECT_EQ(ok.size(), 2u);
  EXPECT_TRUE(ok.contains("a") && ok.contains("c")) << r.err;
  const auto errors = read_jsonl(dir / "out.errors.jsonl");
  ASSERT_EQ(errors.size(), 1u) << r.err;
  EXPECT_EQ(errors[0]["custom_id"], "refused");
  EXPECT_EQ(errors[0]["error"]["message"], "the model's chat template refused these messages: x") << errors[0];
}

TEST(ChatTemplate, AFileWhoseJinjaDoesNotParseIsAUsageErrorNamingItAndWhy) {
  const auto dir = scratch_dir();
  ensure_tiny_model();
  write_text(dir / "bad.jinja", "{% for m in messages %}{{ m.content }}");  // no endfor
  write_text(dir / "in.jsonl", chat_line("a") + "\n");
  const auto r = run_in(dir, *default_tiny_model(), "out.jsonl", {"--chat-template", (dir / "bad.jinja").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // llama.cpp's parser's own words follow ("Unexpected token type" for an unclosed block).
  EXPECT_NE(r.err.find("--chat-template " + (dir / "bad.jinja").string() + ": its Jinja does not parse: "),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
}

TEST(ChatTemplate, AGgufTemplateThatDoesNotParseFailsChatLinesNamingTheFlagAndRawPromptsStillRun) {
  const auto dir = scratch_dir();
  ensure_tiny_model();
  const auto broken = dir / "broken-template.gguf";
  write_model_with_chat_template(*default_tiny_model(), "{% if messages %}[unclosed", broken);
  write_text(dir / "in.jsonl", chat_line("chat") + "\n" + completion_line("raw", R"("hello")") + "\n");
  const auto r = run_in(dir, broken, "out.jsonl", {});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(read_jsonl(dir / "out.jsonl").size(), 1u) << r.err;
  const auto errors = read_jsonl(dir / "out.errors.jsonl");
  ASSERT_EQ(errors.size(), 1u) << r.err;
  const std::string message = errors[0]["error"]["message"];
  EXPECT_NE(message.find("its Jinja does not parse"), std::string::npos) << message;
  EXPECT_NE(message.find("--chat-template"), std::string::npos) << message;
}

}  // namespace
}  // namespace batchwise::test
