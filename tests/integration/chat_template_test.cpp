// --chat-template as a user meets it: a GGUF whose chat template llama.cpp does not recognise fails its chat lines
// with a message that names the flag; the flag with the family's built-in renders them as the original template
// did (the same prompt tokens); a name that is neither a built-in nor a file is a usage error listing them.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>

#include "model/synth.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

std::string chat_line(const std::string& id) {
  return R"({"custom_id":")" + id +
         R"(","method":"POST","url":"/v1/chat/completions","body":{"max_tokens":2,"temperature":0,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello there"}]}})";
}

// A copy of the tiny model (a Llama 3 template) with the header markers renamed, byte for byte, inside the
// template's text only (the vocabulary keeps its special tokens): a template llama.cpp no longer recognises.
std::filesystem::path unknown_template_model(const std::filesystem::path& dir) {
  std::string bytes = tiny_model_bytes();
  const std::string key = "tokenizer.chat_template";
  const size_t key_at = bytes.find(key);
  EXPECT_NE(key_at, std::string::npos);
  const size_t value = key_at + key.size() + 4 + 8;  // after the key: u32 type, u64 length, then the text
  uint64_t length = 0;
  std::memcpy(&length, bytes.data() + key_at + key.size() + 4, 8);
  std::string text = bytes.substr(value, length);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"<|start_header_id|>", "<|begin_header_xx|>"},
                                 {"<|end_header_id|>", "<|end_header_xx|>"}}) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) text.replace(at, from.size(), to);
  }
  bytes.replace(value, length, text);
  const auto path = dir / "odd-template.gguf";
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

int64_t prompt_tokens(const std::filesystem::path& out) {
  const auto lines = read_jsonl(out);
  return lines.empty() ? -1 : lines.front()["response"]["body"]["usage"].value("prompt_tokens", int64_t{-1});
}

TEST(ChatTemplate, AnUnknownTemplateNamesTheFlagAndTheFamilysBuiltInRendersAsTheOriginalDid) {
  const auto dir = scratch_dir();
  write_text(dir / "in.jsonl", chat_line("a") + "\n");
  auto run = [&](const std::filesystem::path& model, const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", (dir / "in.jsonl").string(), "-o", (dir / out).string(), "-m", model.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_batchwise(args);
  };
  const auto original = run(*default_tiny_model(), "original.jsonl", {});
  ASSERT_EQ(original.exit_code, 0) << original.err;
  const auto odd = unknown_template_model(dir);
  const auto refused = run(odd, "refused.jsonl", {});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  const auto errors = read_jsonl(dir / "refused.errors.jsonl");
  ASSERT_EQ(errors.size(), 1u) << refused.err;
  EXPECT_NE(errors[0]["error"]["message"].get<std::string>().find("--chat-template"), std::string::npos) << errors[0];

  const auto fixed = run(odd, "fixed.jsonl", {"--chat-template", "llama3"});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_EQ(prompt_tokens(dir / "fixed.jsonl"), prompt_tokens(dir / "original.jsonl"));
  // Another family's template renders another prompt.
  const auto chatml = run(odd, "chatml.jsonl", {"--chat-template", "chatml"});
  ASSERT_EQ(chatml.exit_code, 0) << chatml.err;
  EXPECT_NE(prompt_tokens(dir / "chatml.jsonl"), prompt_tokens(dir / "original.jsonl"));

  const auto typo = run(odd, "typo.jsonl", {"--chat-template", "llama-3"});
  EXPECT_EQ(typo.exit_code, 2) << typo.err;
  EXPECT_NE(typo.err.find("neither one of llama.cpp's built-in templates nor a file"), std::string::npos) << typo.err;
  EXPECT_NE(typo.err.find("llama3"), std::string::npos) << typo.err;
}

}  // namespace
}  // namespace batchwise::test
