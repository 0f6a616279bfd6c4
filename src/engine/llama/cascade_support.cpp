#include "engine/llama/cascade_support.h"

#include <cmath>
#include <memory>

#include "engine/llama/llama_handles.h"
#include "ggml-backend.h"

namespace batchwise {

bool devices_run_cascade_attention(const llama_model* model, ggml_type type_k, ggml_type type_v,
                                   enum ggml_backend_dev_type type) {
#ifdef BATCHWISE_LLAMA_PATCHED
  const int64_t dk = llama_head_size(model, "key_length"), dv = llama_head_size(model, "value_length");
  const int64_t heads = llama_model_n_head(model), kv_heads = llama_model_n_head_kv(model);
  if (dk <= 0 || dv <= 0 || heads <= 0 || kv_heads <= 0) return false;
  // The node as llama.cpp's graph builds it for the prefix part, with shapes alone (nothing allocated): a step's
  // queries [dk, tokens, heads], 256 cells of keys and values, the lane's mask shared by every head.
  constexpr int64_t kTokens = 64, kCells = 256;
  ggml_init_params params{16 * ggml_tensor_overhead() + ggml_graph_overhead(), nullptr, true};
  std::unique_ptr<ggml_context, decltype(&ggml_free)> ctx(ggml_init(params), ggml_free);
  if (!ctx) return false;
  ggml_tensor* q = ggml_new_tensor_4d(ctx.get(), GGML_TYPE_F32, dk, kTokens, heads, 1);
  ggml_tensor* k = ggml_new_tensor_4d(ctx.get(), type_k, dk, kCells, kv_heads, 1);
  ggml_tensor* v = ggml_new_tensor_4d(ctx.get(), type_v, dv, kCells, kv_heads, 1);
  ggml_tensor* mask = ggml_new_tensor_4d(ctx.get(), GGML_TYPE_F16, kCells, kTokens, 1, 1);
  ggml_tensor* node = ggml_flash_attn_ext_lse(ctx.get(), q, k, v, mask, 1.0f / std::sqrt(static_cast<float>(dk)), 0.0f, 0.0f);
  ggml_prec_set_acc(node, GGML_PREC_F32);
  init_llama_backend();
  bool any = false;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    if (ggml_backend_dev_type(dev) != type) continue;
    if (!ggml_backend_dev_supports_op(dev, node)) return false;
    any = true;
  }
  return any;
#else
  (void)model, (void)type_k, (void)type_v, (void)type;
  return false;
#endif
}

}  // namespace batchwise
