// run_child: runs one trial as a child process and watches it, so that a trial which runs out of
// memory (a failed allocation, the kernel's OOM killer) ends the trial, never the tuner. While it runs
// its memory is sampled every `sample_interval_s`: the resident memory of the child and every process
// it started (RSS from /proc), and, where NVML sees a GPU, the device memory those processes hold
// (NVML's per-process figures) or, where the driver does not list them, the device memory in use. A child whose
// sampled memory passes `memory_limit_bytes` is killed (its whole process group) and reported as such.
// stdout and stderr are captured whole. Blocking; call from one thread at a time per child.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchwise {

struct ChildOptions {
  std::vector<std::string> argv;             // argv[0] is found on PATH when it has no slash
  std::optional<int64_t> memory_limit_bytes;  // RSS (or GPU memory) past this kills the child
  double sample_interval_s = 0.05;
  double timeout_s = 0;                      // 0: none
};

struct ChildResult {
  int exit_code = -1;          // when it exited
  int signal = 0;              // when a signal ended it
  bool over_memory_limit = false;  // killed by us: memory passed the limit
  bool timed_out = false;      // killed by us: ran past timeout_s
  std::string out, err;
  int64_t peak_rss_bytes = 0;  // the child's process tree, sampled; at least the kernel's peak for the child
                               // where that is above the pages it inherited from us at the fork (or
                               // nothing was sampled: a trial shorter than one interval)
  std::optional<int64_t> peak_gpu_memory_bytes;  // sampled device memory in use (NVML), all processes
  std::optional<int64_t> peak_gpu_process_memory_bytes;  // the child's process tree's own, where NVML lists it
  double wall_s = 0;
  bool exited_ok() const { return signal == 0 && exit_code == 0 && !over_memory_limit && !timed_out; }
};

// Errors only when the child cannot be started (fork/pipe failures); a child that fails is a result.
Expected<ChildResult> run_child(const ChildOptions& options);

// Whether a finished child ran out of memory: killed by a signal other than ours (SIGKILL is the
// kernel's OOM killer), or its stderr says so ("out of memory", "MemoryError", "failed to allocate",
// "std::bad_alloc", CUDA's "cudaErrorMemoryAllocation").
bool ran_out_of_memory(const ChildResult& r);

// Process `pid` and all its descendants, from /proc: their ids and resident bytes (none when it is gone).
struct ProcessTree {
  std::vector<int> pids;
  int64_t rss_bytes = 0;
};
ProcessTree read_process_tree(int pid);

}  // namespace batchwise
