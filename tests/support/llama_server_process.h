// ServerProcess: a real server (llama.cpp's llama-server, `batchwise serve`) started as a child process
// on 127.0.0.1 and a free port for end-to-end tests, stopped (SIGTERM, then SIGKILL) when destroyed, or
// killed on purpose (kill -9) by a durability test. Its output goes to a log file the test can print
// when something fails.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace batchwise::test {

class ServerProcess {
 public:
  // Runs `argv` (which must make the server listen on 127.0.0.1:`port`), and waits up to
  // `ready_timeout_s` for GET `health_path` to answer 200. nullptr (and `error`) when it did not come up.
  static std::unique_ptr<ServerProcess> start(std::vector<std::string> argv, int port,
                                              const std::filesystem::path& log_path, double ready_timeout_s,
                                              std::string* error, const std::string& health_path = "/health");
  ~ServerProcess();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // SIGKILL, and wait for it to be gone: a crash at whatever point the server was.
  void kill_hard();
  // SIGINT (Ctrl-C); returns the exit status, or -1 when it did not exit within `timeout_s`.
  int interrupt(double timeout_s);
  // Whether the process is still running; when it is not, `exit_status` says how it ended (the exit
  // code, or -signal when a signal ended it).
  bool alive(int* exit_status = nullptr);

 private:
  ServerProcess(pid_t pid, int port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int port_;
};

// llama.cpp's llama-server: `binary -m model --host 127.0.0.1 --port P` plus `args`.
std::unique_ptr<ServerProcess> start_llama_server(const std::string& binary, const std::filesystem::path& model,
                                                  const std::vector<std::string>& args,
                                                  const std::filesystem::path& log_path, double ready_timeout_s,
                                                  std::string* error);

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_local_port();

// GET url: the HTTP status, 0 when nothing answered.
int http_get_status(const std::string& host, int port, const std::string& path);

}  // namespace batchwise::test
