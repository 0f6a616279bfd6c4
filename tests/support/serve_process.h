// Serve: `batchwise serve` as a child process on 127.0.0.1 for end-to-end tests (the tiny model unless
// told otherwise), with a client for its API: upload, create a batch, poll it, read a file's content.
#pragma once

#include <httplib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llama_server_process.h"

namespace batchwise::test {

class Serve {
 public:
  // `shell_prefix`: shell commands run before serve in the same process (`ulimit -f 400;`), for tests
  // of resource limits; empty: serve is started directly.
  explicit Serve(const std::filesystem::path& state, std::vector<std::string> extra = {},
                 std::string shell_prefix = "");
  httplib::Client& http() { return *client_; }
  ServerProcess& process() { return *process_; }
  std::string url() const { return process_->url(); }
  // Stops it (SIGTERM) and starts it again on the same state.
  void restart(std::vector<std::string> extra = {});

  std::string upload(const std::string& content);  // the file id
  nlohmann::json create_batch(const std::string& file_id, const std::string& window = "24h");
  nlohmann::json get(const std::string& path);
  // Polls the batch until `until` holds for it (or 300 s pass, a test failure).
  nlohmann::json wait(const std::string& id, const std::function<bool(const nlohmann::json&)>& until);
  std::vector<nlohmann::json> content(const std::string& file_id);

 private:
  void start(std::vector<std::string> extra);
  std::filesystem::path state_;
  std::string shell_prefix_;
  std::unique_ptr<ServerProcess> process_;
  std::unique_ptr<httplib::Client> client_;
};

// A batch file of `n` chat requests with a shared system prompt and `max_tokens` each.
std::string serve_batch_file(int n, int max_tokens, const std::string& model = "");

// A batch in one of the statuses it never leaves (completed, failed, expired, cancelled): Serve::wait's usual end.
inline bool batch_finished(const nlohmann::json& b) {
  const std::string s = b.value("status", "");
  return s == "completed" || s == "failed" || s == "expired" || s == "cancelled";
}

}  // namespace batchwise::test
