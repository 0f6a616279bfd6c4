#include "serve_process.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "test_support.h"

namespace batchwise::test {

using nlohmann::json;

std::string serve_batch_file(int n, int max_tokens, const std::string& model) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    json body = {{"messages", {{{"role", "system"}, {"content", "You grade answers. Rubric: be brief and kind."}},
                               {{"role", "user"}, {"content", "answer " + std::to_string(i)}}}},
                 {"max_tokens", max_tokens}};
    if (!model.empty()) body["model"] = model;
    text += json{{"custom_id", "c" + std::to_string(i)}, {"method", "POST"}, {"url", "/v1/chat/completions"},
                 {"body", body}}.dump() + "\n";
  }
  return text;
}

Serve::Serve(const std::filesystem::path& state, std::vector<std::string> extra, std::string shell_prefix)
    : state_(state), shell_prefix_(std::move(shell_prefix)) {
  ensure_tiny_model();
  start(std::move(extra));
}

void Serve::start(std::vector<std::string> extra) {
  const int port = free_local_port();
  std::vector<std::string> argv = {BATCHWISE_BIN, "serve", "--port", std::to_string(port), "--state", state_.string(),
                                   "--parallel", "8", "-c", "8192"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!shell_prefix_.empty()) {
    std::string line = shell_prefix_ + " exec";
    for (const auto& a : argv) line += " " + shell_quote(a);
    argv = {"bash", "-c", line};
  }
  std::string error;
  process_ = ServerProcess::start(argv, port, state_.string() + ".log", 60, &error);
  ASSERT_TRUE(process_) << error << "\n" << run_shell("cat " + shell_quote(state_.string() + ".log")).out;
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port);
  client_->set_read_timeout(60);
}

void Serve::restart(std::vector<std::string> extra) {
  process_.reset();
  start(std::move(extra));
}

std::string Serve::upload(const std::string& content) {
  httplib::MultipartFormDataItems items = {{"file", content, "input.jsonl", "application/jsonl"},
                                          {"purpose", "batch", "", ""}};
  auto res = client_->Post("/v1/files", items);
  EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
  return res ? json::parse(res->body).value("id", "") : "";
}

json Serve::create_batch(const std::string& file_id, const std::string& window) {
  auto res = client_->Post("/v1/batches",
                           json{{"input_file_id", file_id}, {"endpoint", "/v1/chat/completions"},
                                {"completion_window", window}}.dump(),
                           "application/json");
  EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
  return res ? json::parse(res->body) : json();
}

json Serve::get(const std::string& path) {
  auto res = client_->Get(path.c_str());
  if (!res) return json();
  return json::parse(res->body, nullptr, false);
}

json Serve::wait(const std::string& id, const std::function<bool(const json&)>& until) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);  // generous: CI machines are slow and shared
  json b;
  while (std::chrono::steady_clock::now() < deadline) {
    b = get("/v1/batches/" + id);
    if (b.is_object() && until(b)) return b;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "batch " << id << " never got there: " << b.dump();
  return b;
}

std::vector<json> Serve::content(const std::string& file_id) {
  auto res = client_->Get(("/v1/files/" + file_id + "/content").c_str());
  std::vector<json> lines;
  if (!res) return lines;
  std::istringstream in(res->body);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  return lines;
}

}  // namespace batchwise::test
