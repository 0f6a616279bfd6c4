#include "test_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include "gguf.h"
#include "model/synth.h"

namespace batchwise::test {

std::filesystem::path shared_cache_dir() {
  const auto dir = std::filesystem::path(BATCHWISE_TEST_TMP) / "cache";
  std::filesystem::create_directories(dir);
  return dir;
}

void ensure_tiny_model() {
  ::setenv("BATCHWISE_CACHE_DIR", shared_cache_dir().c_str(), 1);
  const auto model = default_tiny_model();
  ASSERT_TRUE(model.has_value()) << model.error().message;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string batchwise_bin() {
#ifdef BATCHWISE_BIN
  return shell_quote(BATCHWISE_BIN);
#else
  return "batchwise";
#endif
}

CommandResult run_shell(const std::string& command_line) {
  const auto dir = std::filesystem::path(BATCHWISE_TEST_TMP);
  std::filesystem::create_directories(dir);
  static int counter = 0;
  const auto out_path = dir / ("stdout." + std::to_string(::getpid()) + "." + std::to_string(counter));
  const auto err_path = dir / ("stderr." + std::to_string(::getpid()) + "." + std::to_string(counter++));
  const std::string full = "BATCHWISE_CACHE_DIR=" + shell_quote(shared_cache_dir().string()) + " bash -c " +
                           shell_quote(command_line) + " >" + shell_quote(out_path.string()) + " 2>" +
                           shell_quote(err_path.string()) + " </dev/null";
  const int status = std::system(full.c_str());
  CommandResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.exit_code = -WTERMSIG(status);
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return r;
}

CommandResult run_batchwise(const std::vector<std::string>& args) {
  std::string line = batchwise_bin();
  for (const auto& a : args) line += " " + shell_quote(a);
  return run_shell(line);
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string tiny_model_bytes() {
  ensure_tiny_model();
  const auto tiny = default_tiny_model();
  EXPECT_TRUE(tiny) << (tiny ? "" : tiny.error().message);
  return tiny ? read_text(*tiny) : "";
}

void write_model_with_chat_template(const std::filesystem::path& model, const std::string& chat_template,
                                    const std::filesystem::path& path) {
  // The new metadata (padded to the data's alignment), then the tensors' bytes: their offsets count from there.
  gguf_context* ctx = gguf_init_from_file(model.c_str(), gguf_init_params{/*no_alloc=*/true, /*ctx=*/nullptr});
  ASSERT_NE(ctx, nullptr) << model;
  const size_t data_offset = gguf_get_data_offset(ctx);
  gguf_set_val_str(ctx, "tokenizer.chat_template", chat_template.c_str());
  std::string meta(gguf_get_meta_size(ctx), '\0');
  gguf_get_meta_data(ctx, meta.data());
  gguf_free(ctx);
  std::ofstream(path, std::ios::binary) << meta << read_text(model).substr(data_offset);
}

nlohmann::json plan_json(std::vector<std::string> args) {
  args.insert(args.begin(), "plan");
  args.push_back("--json");
  const auto r = run_batchwise(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

std::map<std::string, int> custom_id_counts(const std::vector<nlohmann::json>& lines) {
  std::map<std::string, int> counts;
  for (const auto& l : lines) counts[l.value("custom_id", "")]++;
  return counts;
}

std::filesystem::path write_chat_requests(const std::filesystem::path& dir, int n, const std::string& name,
                                          const std::string& id_prefix) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += nlohmann::json{{"custom_id", id_prefix + std::to_string(i)},
                           {"method", "POST"},
                           {"url", "/v1/chat/completions"},
                           {"body", {{"messages", {{{"role", "user"}, {"content", "q" + std::to_string(i)}}}}}}}
                .dump() +
            "\n";
  }
  const auto path = dir / (name + ".jsonl");
  write_text(path, text);
  return path;
}

std::filesystem::path write_gguf(const std::string& bytes, const std::string& name) {
  const auto path = scratch_dir() / name;
  write_text(path, bytes);
  return path;
}

std::map<std::string, nlohmann::json> lines_by_id(const std::vector<nlohmann::json>& lines) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& l : lines) out[l.value("custom_id", "")] = l;
  return out;
}

std::map<std::string, std::pair<int64_t, int64_t>> usage_by_id(const std::filesystem::path& path) {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  for (const auto& l : read_jsonl(path)) {
    const auto& u = l["response"]["body"]["usage"];
    EXPECT_TRUE(out.emplace(l["custom_id"], std::pair{u["prompt_tokens"].get<int64_t>(),
                                                       u["completion_tokens"].get<int64_t>()})
                    .second)
        << l["custom_id"] << " twice in " << path;
  }
  return out;
}

void write_stub_requests(const std::filesystem::path& path, int n, size_t shared_chars) {
  std::string text;
  const std::string shared(shared_chars, 'r');
  for (int i = 0; i < n; ++i) {
    nlohmann::json line = {{"custom_id", "req-" + std::to_string(i)},
                           {"method", "POST"},
                           {"url", "/v1/chat/completions"},
                           {"body",
                            {{"model", "stub"},
                             {"max_tokens", 4},
                             {"messages", {{{"role", "user"}, {"content", shared + "question " + std::to_string(i)}}}}}}};
    text += line.dump() + "\n";
  }
  write_text(path, text);
}

}  // namespace batchwise::test
