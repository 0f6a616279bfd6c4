// Resolves the `--model` argument of `plan`: a GGUF file (shapes and exact weight bytes from its
// header), a HuggingFace config.json or a folder holding one (shapes; checkpoint bytes from the
// safetensors headers beside it), or a preset name from data/models.json. Never loads weights.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/gguf_reader.h"
#include "model/model_spec.h"
#include "model/weight_types.h"
#include "model/weights.h"

namespace batchwise {

struct ModelInfo {
  ModelSpec spec;
  std::string source;                       // "gguf", "hf_config" or "preset"
  std::optional<WeightsSummary> file_weights;  // exact bytes of the file(s) given
  std::optional<FileType> file_type;        // a GGUF's general.file_type, when it is one batchwise names
};

// Unknown names give kNotFound with close preset names.
Expected<ModelInfo> load_model_info(std::string_view model_arg);

// The shapes a GGUF header declares (general.architecture and its keys, tensor names for bias/tying).
Expected<ModelSpec> spec_from_gguf(const GgufHeader& header);

}  // namespace batchwise
