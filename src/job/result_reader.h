// ResultReader: a job's committed results read from its state database over a read-only connection of
// its own, so that a thread other than the job's runner (an HTTP worker of `serve`) can read them while
// the job runs. The JobStore's connection stays the runner's alone (job_store.h); WAL lets this one
// read while the store's writer commits: each page sees whole committed groups, never a half-written
// one, and never blocks the writer.
//
// Results come in line order, a page of at most `page_rows` at a time, each page its own short read
// (nothing stays open between pages, so the writer's checkpoints are not held back). Memory is bounded
// by one page whatever the job's size. A result committed while paging is seen if its line is past the
// last one returned; never twice.
//
// Threads: one reader, one thread at a time; any number of readers beside one JobStore.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/status.h"
#include "job/job_store.h"

namespace batchwise {

class ResultReader {
 public:
  enum class Which { kAll, kOk, kFailed };

  // Opens the state at `path` read-only (kIo if it is not there or not readable).
  static Expected<std::unique_ptr<ResultReader>> open(const std::filesystem::path& path, Which which = Which::kAll,
                                                      int64_t page_rows = 256);
  ~ResultReader();

  // The next committed results of the chosen kind after the last one returned, at most page_rows, in
  // line order; empty when none is left (for now: a running job may commit more later).
  Expected<std::vector<ResultRecord>> next_page();

  struct Impl;

 private:
  explicit ResultReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace batchwise
