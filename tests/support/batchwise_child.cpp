#include "batchwise_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_support.h"

namespace batchwise::test {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

BatchwiseChild::BatchwiseChild(const std::vector<std::string>& args, const std::filesystem::path& dir,
                               const std::string& name)
    : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
  std::vector<std::string> argv_s = {BATCHWISE_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string cache = shared_cache_dir().string();
  pid_ = ::fork();
  if (pid_ == 0) {
    const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || null < 0) ::_exit(126);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::setenv("BATCHWISE_CACHE_DIR", cache.c_str(), 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

BatchwiseChild::~BatchwiseChild() {
  if (pid_ > 0 && !reaped_) kill_hard();
}

bool BatchwiseChild::running() {
  if (reaped_ || pid_ <= 0) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

void BatchwiseChild::kill_hard() {
  if (reaped_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait();
}

int BatchwiseChild::wait() {
  if (!reaped_ && pid_ > 0) {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
  return -1;
}

std::string BatchwiseChild::out() const { return slurp(out_); }
std::string BatchwiseChild::err() const { return slurp(err_); }

}  // namespace batchwise::test
