// The embedded engine's llama.cpp flags (-b, -ub, -t, -ngl, -ctk/-ctv, -fa, ...), declared once for every verb
// that runs the embedded engine (run, serve), so that each is spelled, ranged and explained alike.
// -np/--parallel, --lanes and -c, whose defaults differ by verb, are each verb's own (layout_flags.h).
#pragma once

#include <CLI/CLI.hpp>

#include "engine/llama/llama_engine.h"

namespace batchwise {

void add_embedded_engine_flags(CLI::App& sub, LlamaEngineOptions& engine);

}  // namespace batchwise
