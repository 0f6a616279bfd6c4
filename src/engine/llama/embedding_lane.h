// EmbeddingLane: the embedded engine's lane for an embedding model (its GGUF names a pooling type: BERT-family
// encoders such as nomic-embed-text and bge, or decoders such as Qwen3-Embedding). It packs the inputs of waiting
// /v1/embeddings requests into one llama_decode, up to --ubatch-size tokens (a longer input alone) and --parallel
// inputs (each input a sequence of its own),
// reads each sequence's pooled vector (llama_get_embeddings_seq), normalizes it to length 1 as OpenAI's and
// llama-server's are, clears the cells, and answers a request once all its inputs are done. An input is never
// split: it must fit one batch, which the preparer checks (an encoder sees a whole input at once).
// Threads: its own thread owns its context. Part of the llama.cpp adapter (includes llama.h).
#pragma once

#include <memory>

#include "engine/llama/llama_lane.h"

namespace batchwise {

// The GGUF's pooling type (llama.cpp's llama_pooling_type: 1 mean, 2 cls, 3 last, 4 rank), 0 when it names none
// (a generative model).
int model_pooling_type(const llama_model* model);

// One embedding lane over `model`: `options.n_batch` tokens a context (the longest input), `options.n_ubatch` a
// decode otherwise, `options.n_parallel` inputs at most. Fails when llama.cpp cannot create the context.
Expected<std::unique_ptr<LlamaLane>> make_embedding_lane(llama_model* model, const LlamaEngineOptions& options,
                                                         LaneShared& shared);

}  // namespace batchwise
