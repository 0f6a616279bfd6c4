// run_thread: every thread batchwise starts begins here, so that each has the one boundary
// docs/ARCHITECTURE.md promises. An exception that escapes the thread's function (a bug, a library that
// threw where we did not expect it) is caught, logged with the thread's name, and handed to `on_escape`,
// which turns it into a clear failure of that thread's work (the requests it held get errors, the job
// fails with the reason) instead of std::terminate ending the process. The thread then ends.
//
// Threads: the returned std::thread is the caller's to join; `on_escape` runs on the new thread.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace batchwise {

// Called with what() of the escaped exception ("unknown exception" for one that is not a std::exception).
using OnThreadEscape = std::function<void(const std::string& what)>;

std::thread run_thread(std::string name, std::function<void()> fn, OnThreadEscape on_escape = {});

// The boundary without a new thread: runs `fn` on the caller's thread, and catches, logs and hands on an
// escaped exception as run_thread does. Returns false when something escaped.
bool run_guarded(const std::string& name, const std::function<void()>& fn, const OnThreadEscape& on_escape = {});

// The CPUs this process may run on (its affinity: what `taskset`, a container's cpuset or Slurm's
// --cpus-per-task leave it), at least 1. std::thread::hardware_concurrency counts every CPU of the machine,
// so threads sized by it would crowd the few CPUs a job was given.
int usable_cpus();

}  // namespace batchwise
