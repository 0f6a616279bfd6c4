// ModelSpec from a HuggingFace config.json (llama, mistral, qwen2/3, gemma2/3, mixtral, qwen3_moe,
// deepseek_v2/v3), and the stored size of the safetensors files beside it (their JSON headers only,
// each bounded by the file size, so a hostile file cannot make us allocate more than it holds).
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "core/status.h"
#include "model/model_spec.h"
#include "model/weights.h"

namespace batchwise {

Expected<ModelSpec> spec_from_hf_config(std::string_view config_json_text);

// Sums the tensors of every *.safetensors file in `dir` (dtype size x shape); nullopt when there are none.
Expected<std::optional<WeightsSummary>> safetensors_weights(const std::filesystem::path& dir);

}  // namespace batchwise
