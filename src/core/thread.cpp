#include "core/thread.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "core/log.h"

namespace batchwise {
namespace {

std::string escaped_what(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

bool run_guarded(const std::string& name, const std::function<void()>& fn, const OnThreadEscape& on_escape) {
  std::exception_ptr escaped;
  try {
    fn();
    return true;
  } catch (...) {
    escaped = std::current_exception();
  }
  const std::string what = escaped_what(escaped);
  log_error("internal error on the " + name + " thread: " + what + " (a bug: please report it); its work fails");
  if (on_escape) {
    try {
      on_escape(what);
    } catch (...) {
      log_error("internal error on the " + name + " thread while failing its work: " + escaped_what(std::current_exception()));
    }
  }
  return false;
}

std::thread run_thread(std::string name, std::function<void()> fn, OnThreadEscape on_escape) {
  return std::thread([name = std::move(name), fn = std::move(fn), on_escape = std::move(on_escape)] {
    // Linux limits a thread's name to 15 characters; it shows in top -H, gdb and perf.
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    (void)run_guarded(name, fn, on_escape);
  });
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace batchwise
