// BatchService::Live, a running batch as the service's parts see it (batch_service.cpp starts and finishes it,
// batch_status.cpp reports on it). Private to src/server: not part of BatchService's contract.
#pragma once

#include <cstdint>
#include <memory>

#include "job/job.h"
#include "server/batch_record.h"
#include "server/batch_service.h"
#include "server/engine_pool.h"

namespace batchwise {

// A batch on its model's runner. Its lease pins the model from the start of the batch to its finish.
struct BatchService::Live {
  std::shared_ptr<Job> job;
  ModelLease lease;
  double started_s = 0;
  int64_t done_at_start = 0;
  int64_t tokens_at_start = 0;  // completion tokens committed before this process ran the batch
};

// A job's committed counts as the batch object's request_counts.
inline RequestCounts counts_of(const JobCounts& c) { return {c.total, c.ok, c.failed}; }

}  // namespace batchwise
