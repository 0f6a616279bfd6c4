#include "llama_server_process.h"

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace batchwise::test {

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

int http_get_status(const std::string& host, int port, const std::string& path) {
  httplib::Client client(host, port);
  client.set_connection_timeout(1);
  client.set_read_timeout(2);
  auto res = client.Get(path.c_str());
  return res ? res->status : 0;
}

std::unique_ptr<ServerProcess> start_llama_server(const std::string& binary, const std::filesystem::path& model,
                                                  const std::vector<std::string>& args,
                                                  const std::filesystem::path& log_path, double ready_timeout_s,
                                                  std::string* error) {
  const int port = free_local_port();
  std::vector<std::string> argv = {binary, "-m", model.string(), "--host", "127.0.0.1", "--port", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return ServerProcess::start(std::move(argv), port, log_path, ready_timeout_s, error);
}

std::unique_ptr<ServerProcess> ServerProcess::start(std::vector<std::string> argv_s, int port,
                                                    const std::filesystem::path& log_path, double ready_timeout_s,
                                                    std::string* error, const std::string& health_path) {
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* log = std::fopen(log_path.c_str(), "w");
    if (log) {
      ::dup2(::fileno(log), 1);
      ::dup2(::fileno(log), 2);
    }
    ::execvp(argv[0], argv.data());  // a bare name is looked up on PATH
    ::_exit(127);
  }
  auto server = std::unique_ptr<ServerProcess>(new ServerProcess(pid, port));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(ready_timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_get_status("127.0.0.1", port, health_path) == 200) return server;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      if (error) *error = argv_s[0] + " exited (see " + log_path.string() + ")";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (error) *error = argv_s[0] + " did not answer /health in time (see " + log_path.string() + ")";
  return nullptr;
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::interrupt(double timeout_s) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGINT);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

bool ServerProcess::alive(int* exit_status) {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  pid_ = -1;
  if (exit_status) *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return false;
}

ServerProcess::~ServerProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

}  // namespace batchwise::test
