// LlamaServerProcess: llama.cpp's real llama-server, started as a child process on 127.0.0.1 and a
// free port for end-to-end tests of the HTTP engine, stopped (SIGTERM, then SIGKILL) when destroyed.
// Its output goes to a log file the test can print when something fails.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace batchwise::test {

class LlamaServerProcess {
 public:
  // Starts `binary` with `-m model --host 127.0.0.1 --port P` plus `args`, and waits up to
  // `ready_timeout_s` for GET /health to answer 200. nullptr (and `error`) when it did not come up.
  static std::unique_ptr<LlamaServerProcess> start(const std::string& binary, const std::filesystem::path& model,
                                                   const std::vector<std::string>& args,
                                                   const std::filesystem::path& log_path, double ready_timeout_s,
                                                   std::string* error);
  ~LlamaServerProcess();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  LlamaServerProcess(pid_t pid, int port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int port_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_local_port();

// GET url: the HTTP status, 0 when nothing answered.
int http_get_status(const std::string& host, int port, const std::string& path);

}  // namespace batchwise::test
