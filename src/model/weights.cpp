#include "model/weights.h"

#include "model/amx_packing.h"
#include "model/tensor_layout.h"

namespace batchwise {
namespace {

// A tensor of ne0 x ne1 x ne2 values (ne2 > 1: a stack of experts or heads, which AMX does not take).
void add(WeightsSummary& w, const std::string& name, const WeightType& type, int64_t bytes, int64_t ne0, int64_t ne1,
         int64_t ne2) {
  w.total_bytes += bytes;
  w.parameter_count += ne0 * ne1 * ne2;
  w.bytes_by_type[std::string(type.name)] += bytes;
  const int64_t amx = ne2 == 1 ? amx_matrix_bytes(type, ne0, ne1).value_or(0) : 0;
  if (name == "token_embd.weight") {
    w.token_embd_bytes += bytes;
    w.token_embd_type = type.name;
    w.token_embd_amx_bytes = amx;
  } else if (amx > 0) {
    w.amx_packing_bytes += amx - bytes;
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
    add(w, t.name, wt, wt.bytes_for(t.ne0) * t.ne1 * t.ne2, t.ne0, t.ne1, t.ne2);
  }
  return w;
}

WeightsSummary weights_from_gguf(const GgufHeader& header) {
  WeightsSummary w;
  w.source = "gguf tensor infos";
  for (const auto& t : header.tensors) {
    const auto dim = [&t](size_t i) { return i < t.dims.size() ? t.dims[i] : int64_t{1}; };
    int64_t ne2 = 1;
    for (size_t i = 2; i < t.dims.size(); ++i) ne2 *= t.dims[i];
    add(w, t.name, *weight_type_by_id(t.type_id), t.bytes, dim(0), dim(1), ne2);
  }
  return w;
}

}  // namespace batchwise
