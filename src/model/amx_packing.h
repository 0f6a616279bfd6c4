// llama.cpp's AMX buffer (ggml-cpu/amx): whether the CPU backend uses it here, which matrices the AMX kernels
// take and how much their packed layout adds. On a CPU with AMX (Intel Sapphire Rapids and later) a llama.cpp
// built for it (GGML_NATIVE there) keeps every matrix it can multiply with AMX in that buffer of its own. q8_0 keeps a 4-byte compensation per block of 32, q4_k and q5_k 4
// bytes per block of 256, iq4_xs 2; f16, q4_0, q4_1 and q6_k keep their size. AMX takes a 2-D matrix of
// those types whose rows (out features) are a multiple of 32 and whose row length is a multiple of its
// block (16 for f16); embedding tables (looked up, not multiplied) and expert stacks stay out.
#pragma once

#include <cstdint>
#include <optional>

#include "model/model_spec.h"
#include "model/weight_types.h"

namespace batchwise {

// Whether ggml's CPU backend offers the AMX buffer type (built with AMX and the kernel granted it).
bool llama_cpu_uses_amx();

// Whether, where llama.cpp uses AMX, it keeps `spec`'s matrices in AMX buffers: all but a model with multi-head
// latent attention (DeepSeek-V2/V3), which batchwise loads without the CPU's extra buffers: from AMX buffers
// llama.cpp stops creating its context on a ggml scheduler assert.
bool amx_holds_model(const ModelSpec& spec);

// The bytes a ne0 x ne1 matrix of `type` takes in the AMX buffer, or nullopt where AMX would not take it.
std::optional<int64_t> amx_matrix_bytes(const WeightType& type, int64_t ne0, int64_t ne1);

}  // namespace batchwise
