// Whether the GPUs can run cascade attention (patch 0004) for a model, asked of ggml itself.
#pragma once

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

namespace batchwise {

// Whether every device of `type` that llama.cpp sees supports cascade attention's node for this model's heads: the
// flash attention that also gives each row's log-sum-exp (ggml_flash_attn_ext_lse). CUDA runs that node on its
// tensor-core kernel alone (NVIDIA Turing and newer, heads of 64 to 256 with keys as wide as values); an op a GPU
// lacks goes to the CPU, its inputs copied over, in every layer of every step. False where there is no such device
// or llama.cpp lacks the patch.
bool devices_run_cascade_attention(const llama_model* model, ggml_type type_k, ggml_type type_v,
                                   enum ggml_backend_dev_type type);

}  // namespace batchwise
