// The size of a matrix in llama.cpp's AMX buffer (ggml-cpu/amx): which matrices the AMX kernels take and
// how much their packed layout adds. q8_0 keeps a 4-byte compensation per block of 32, q4_k and q5_k 4
// bytes per block of 256, iq4_xs 2; f16, q4_0, q4_1 and q6_k keep their size. AMX takes a 2-D matrix of
// those types whose rows (out features) are a multiple of 32 and whose row length is a multiple of its
// block (16 for f16); embedding tables (looked up, not multiplied) and expert stacks stay out.
#pragma once

#include <cstdint>
#include <optional>

#include "model/weight_types.h"

namespace batchwise {

// The bytes a ne0 x ne1 matrix of `type` takes in the AMX buffer, or nullopt where AMX would not take it.
std::optional<int64_t> amx_matrix_bytes(const WeightType& type, int64_t ne0, int64_t ne1);

}  // namespace batchwise
