#include "tune/child_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/ascii.h"
#include "core/clock.h"
#include "hardware/nvml.h"

namespace batchwise {
namespace {

// Appends what the pipe has now; false once it is closed.
bool drain(int fd, std::string& into) {
  std::array<char, 65536> buf;
  const ssize_t n = ::read(fd, buf.data(), buf.size());
  if (n > 0) {
    into.append(buf.data(), static_cast<size_t>(n));
    return true;
  }
  return n < 0 && (errno == EINTR || errno == EAGAIN);
}

}  // namespace

ProcessTree read_process_tree(int root) {
  std::map<int, int> parent;
  std::map<int, int64_t> rss;
  const int64_t page = ::sysconf(_SC_PAGESIZE);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const int pid = std::atoi(name.c_str());
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    const auto close = text.rfind(')');
    if (close == std::string::npos || close + 4 > text.size()) continue;
    int ppid = 0;
    char state = 0;
    if (std::sscanf(text.c_str() + close + 2, "%c %d", &state, &ppid) != 2) continue;
    parent[pid] = ppid;
    std::ifstream statm(entry.path() / "statm");
    int64_t size = 0, resident = 0;
    if (statm >> size >> resident) rss[pid] = resident * page;
  }
  ProcessTree tree;
  for (const auto& [pid, bytes] : rss) {
    for (int p = pid, hops = 0; p > 1 && hops < 64; ++hops) {
      if (p == root) {
        tree.pids.push_back(pid);
        tree.rss_bytes += bytes;
        break;
      }
      const auto it = parent.find(p);
      if (it == parent.end()) break;
      p = it->second;
    }
  }
  return tree;
}

Expected<ChildResult> run_child(const ChildOptions& o) {
  if (o.argv.empty()) return make_error(ErrorCode::kInvalidArgument, "a trial needs a command");
  int out_pipe[2], err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) {
    return make_error(ErrorCode::kIo, std::string("cannot create a pipe for a trial: ") + std::strerror(errno));
  }
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  GpuSampler gpu;
  // A forked child starts with this process's resident pages, and the kernel's peak for it
  // (ru_maxrss) keeps them past exec: a figure no higher than this tells nothing about the trial.
  const int64_t rss_at_fork = read_process_tree(::getpid()).rss_bytes;
  const double start = now_s();
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorCode::kIo, std::string("cannot start a trial: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: killing the group ends every process the trial started
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ChildResult r;
  bool out_open = true, err_open = true, exited = false;
  int status = 0;
  struct rusage usage {};
  double next_sample = start + o.sample_interval_s;  // not at once: before its exec the child is a copy of us
  while (!exited || out_open || err_open) {
    std::array<pollfd, 2> fds{pollfd{out_open ? out_pipe[0] : -1, POLLIN, 0}, pollfd{err_open ? err_pipe[0] : -1, POLLIN, 0}};
    ::poll(fds.data(), fds.size(), static_cast<int>(o.sample_interval_s * 1000));
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) out_open = drain(out_pipe[0], r.out);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) err_open = drain(err_pipe[0], r.err);
    if (!exited && ::wait4(pid, &status, WNOHANG, &usage) == pid) {
      exited = true;
      // The kernel's exact peak of the child (and the children it waited for): short trials end
      // between two samples. It counts only where it is above what the child inherited at the fork,
      // or where no sample was taken (a trial shorter than one interval: then it is an upper bound).
      const int64_t kernel_peak = static_cast<int64_t>(usage.ru_maxrss) * 1024;
      if (kernel_peak > rss_at_fork || r.peak_rss_bytes == 0) r.peak_rss_bytes = std::max(r.peak_rss_bytes, kernel_peak);
    }
    if (exited || now_s() < next_sample) continue;
    next_sample = now_s() + o.sample_interval_s;
    const ProcessTree tree = read_process_tree(pid);
    r.peak_rss_bytes = std::max(r.peak_rss_bytes, tree.rss_bytes);
    if (auto s = gpu.sample()) r.peak_gpu_memory_bytes = std::max(r.peak_gpu_memory_bytes.value_or(0), s->memory_used_bytes);
    if (auto own = gpu.process_memory_bytes(tree.pids)) {
      r.peak_gpu_process_memory_bytes = std::max(r.peak_gpu_process_memory_bytes.value_or(0), *own);
    }
    // The limit is on what the trial holds: its own GPU memory where listed, else the device's, else RSS.
    const int64_t used = r.peak_gpu_process_memory_bytes.value_or(r.peak_gpu_memory_bytes.value_or(tree.rss_bytes));
    if (o.memory_limit_bytes && used > *o.memory_limit_bytes && !r.over_memory_limit) {
      r.over_memory_limit = true;
      ::kill(-pid, SIGKILL);
    }
    if (o.timeout_s > 0 && now_s() - start > o.timeout_s && !r.timed_out) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  ::kill(-pid, SIGKILL);  // anything the trial left running in its group
  r.wall_s = now_s() - start;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

bool ran_out_of_memory(const ChildResult& r) {
  if (r.over_memory_limit || r.timed_out) return false;
  if (r.signal == SIGKILL) return true;
  if (r.signal == 0 && r.exit_code == 0) return false;
  const std::string err = ascii_lower(r.err);
  for (const char* needle : {"out of memory", "memoryerror", "failed to allocate", "bad_alloc",
                             "cudaerrormemoryallocation", "cannot allocate memory"}) {
    if (err.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace batchwise
