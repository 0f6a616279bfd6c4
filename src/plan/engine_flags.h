// Engine flags: a recommendation written as the command-line flags (or settings) of the engines a
// person may run it on: batchwise run, llama-server, vLLM, SGLang and Ollama. Each engine gets the
// same batch and context; where an engine sizes memory itself (vLLM, SGLang) the flags bound it.
#pragma once

#include <string>
#include <vector>

#include "model/model_spec.h"
#include "plan/recommend.h"

namespace batchwise {

struct EngineFlags {
  std::string engine;                 // "batchwise", "llama-server", "vllm", "sglang", "ollama"
  std::vector<std::string> args;      // flags and values, in order; Ollama: VAR=value and num_ctx
  std::string note;
  std::string command_line() const;   // args joined with spaces
};

std::vector<EngineFlags> engine_flags(const RecommendInput& in, const BatchChoice& choice);

}  // namespace batchwise
