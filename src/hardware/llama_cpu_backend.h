// What the linked llama.cpp's CPU backend does with a model's matrices on this host. On a CPU with AMX
// (Intel Sapphire Rapids and later) a llama.cpp built for it (GGML_NATIVE there) keeps every matrix it can
// multiply with AMX in an "AMX" buffer of its own: q8_0, q4_k, q5_k and iq4_xs matrices grow in its
// packed layout, and a tied output projection is a second copy beside the embedding table. plan's CPU
// memory follows (model/amx_packing.h).
#pragma once

namespace batchwise {

// Whether ggml's CPU device offers the AMX buffer type (built with AMX and the kernel granted it).
bool llama_cpu_uses_amx();

}  // namespace batchwise
