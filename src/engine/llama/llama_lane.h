// LlamaLane: continuous batching over one llama_context. Every request is one sequence; new requests
// join as others finish. A prompt prefix shared by several requests (the seed workload's rubric) is
// evaluated once per lane: its KV cells are shared with every sequence that starts with it
// (llama_memory_seq_cp in a unified KV cache), and kept in a small set of prefix slots for the
// requests that come later.
//
// The embedded engine runs one lane or several over the same model. Several lanes overlap one
// lane's host work (llama.cpp builds each step's graph and attention mask on the CPU; we choose the
// tokens) with another lane's device work, and each lane's attention runs over its own, smaller KV
// cache. On a CPU build they only compete for the same cores.
//
// Threads: each lane has its own thread, which owns its context; after each decode step a few helper
// threads choose the next tokens from the rows of logits (ParallelRows).
// Part of the llama.cpp adapter (includes llama.h).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "engine/engine.h"
#include "engine/llama/llama_engine.h"
#include "engine/llama/prepared_queue.h"
#include "llama.h"

namespace batchwise {

// What the lanes of one engine share.
struct LaneShared {
  PreparedQueue queue;
  Engine::Callback on_done;
  std::string model_name;
  std::mutex stats_mu;
  EngineStats stats;

  explicit LaneShared(size_t capacity) : queue(capacity) {}
};

class LlamaLane {
 public:
  virtual ~LlamaLane() = default;
  // Starts the lane's thread; `helper_threads` choose tokens beside it.
  virtual void start(int helper_threads) = 0;
  // Waits for the thread, which ends once the queue is stopped (and, when asked, its sequences are
  // done); what it still held has been sent back as cancelled.
  virtual void join() = 0;
};

// Sends `p` back failed with `error` (from whichever thread finds the failure).
void send_error(LaneShared& shared, const PreparedRequest& p, const Error& error);

// One lane over `model` (which outlives it): `options.n_parallel` sequences and `options.n_ctx` KV
// cells are this lane's own. Fails when llama.cpp cannot allocate the context.
Expected<std::unique_ptr<LlamaLane>> make_llama_lane(llama_model* model, const LlamaEngineOptions& options,
                                                     LaneShared& shared);

}  // namespace batchwise
