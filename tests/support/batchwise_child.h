// BatchwiseChild: the real batchwise binary started as a child process (not through a shell), so a
// test can kill -9 it at a moment it chooses (a kill trial) and read what it printed up to then.
// stdout and stderr go to files in the given folder; BATCHWISE_CACHE_DIR is the tests' shared cache.
//
// Threads: one owner; the destructor kills a child still running.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace batchwise::test {

class BatchwiseChild {
 public:
  // Starts `batchwise args...`; its output goes to DIR/NAME.out and DIR/NAME.err.
  BatchwiseChild(const std::vector<std::string>& args, const std::filesystem::path& dir, const std::string& name);
  ~BatchwiseChild();
  BatchwiseChild(const BatchwiseChild&) = delete;
  BatchwiseChild& operator=(const BatchwiseChild&) = delete;

  bool running();                // false once it exited (reaps it)
  void kill_hard();              // SIGKILL and reap: the process stops wherever it was
  int wait();                    // exit code; -signal when killed
  std::string out() const;       // what it printed so far
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::filesystem::path out_, err_;
};

}  // namespace batchwise::test
