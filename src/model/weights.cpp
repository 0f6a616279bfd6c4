#include "model/weights.h"

#include "model/tensor_layout.h"

namespace batchwise {
namespace {

void add(WeightsSummary& w, const std::string& name, const std::string& type, int64_t bytes, int64_t elements) {
  w.total_bytes += bytes;
  w.parameter_count += elements;
  w.bytes_by_type[type] += bytes;
  if (name == "token_embd.weight") {
    w.token_embd_bytes += bytes;
    w.token_embd_type = type;
  }
  if (name == "output.weight") w.output_bytes += bytes;
  if (name.find("_exps.") != std::string::npos) w.routed_expert_bytes += bytes;
}

}  // namespace

WeightsSummary estimate_weights(const ModelSpec& spec, FileType type) {
  WeightsSummary w;
  w.source = "estimated for " + std::string(file_type_name(type));
  for (const auto& t : model_tensor_shapes(spec)) {
    const WeightType& wt = tensor_weight_type(type, t.name, t.layer, spec.n_layer, t.ne0, spec.n_expert);
    add(w, t.name, std::string(wt.name), wt.bytes_for(t.ne0) * t.ne1 * t.ne2, t.elements());
  }
  return w;
}

WeightsSummary weights_from_gguf(const GgufHeader& header) {
  WeightsSummary w;
  w.source = "gguf tensor infos";
  for (const auto& t : header.tensors) {
    add(w, t.name, std::string(weight_type_by_id(t.type_id)->name), t.bytes, t.elements());
  }
  return w;
}

}  // namespace batchwise
