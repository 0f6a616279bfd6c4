#include "sparse_gguf.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "ggml.h"
#include "gguf.h"
#include "model/synth.h"
#include "model/tensor_layout.h"

namespace batchwise::test {
namespace {

struct GgufFree {
  void operator()(gguf_context* c) const { gguf_free(c); }
};
struct GgmlFree {
  void operator()(ggml_context* c) const { ggml_free(c); }
};

gguf_context* open_vocab(const std::string& vocab) {
  auto path = find_vocab_file(vocab);
  if (!path) return nullptr;
  gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
  return gguf_init_from_file(path->c_str(), params);
}

}  // namespace

int64_t vocab_tokens(const std::string& vocab) {
  std::unique_ptr<gguf_context, GgufFree> v(open_vocab(vocab));
  if (!v) return 0;
  const int64_t key = gguf_find_key(v.get(), "tokenizer.ggml.tokens");
  return key < 0 ? 0 : static_cast<int64_t>(gguf_get_arr_n(v.get(), key));
}

std::string write_sparse_gguf(const ModelSpec& s, FileType type, const std::filesystem::path& path) {
  std::unique_ptr<gguf_context, GgufFree> vocab(open_vocab(s.vocab));
  if (!vocab) return "no vocab file for " + s.vocab;
  std::unique_ptr<gguf_context, GgufFree> out(gguf_init_empty());
  gguf_set_kv(out.get(), vocab.get());
  for (int64_t i = gguf_get_n_kv(out.get()) - 1; i >= 0; --i) {
    const std::string key = gguf_get_key(out.get(), i);
    if (!key.starts_with("tokenizer.")) gguf_remove_key(out.get(), key.c_str());
  }
  const std::string a = s.architecture + ".";
  auto u32 = [&](const std::string& k, int64_t v) { gguf_set_val_u32(out.get(), (a + k).c_str(), static_cast<uint32_t>(v)); };
  gguf_set_val_str(out.get(), "general.architecture", s.architecture.c_str());
  gguf_set_val_str(out.get(), "general.name", s.name.c_str());
  gguf_set_val_u32(out.get(), "general.file_type", file_type_id(type));
  u32("context_length", s.n_ctx_train);
  u32("embedding_length", s.n_embd);
  u32("block_count", s.n_layer);
  u32("feed_forward_length", s.n_ff);
  u32("attention.head_count", s.n_head);
  u32("vocab_size", s.vocab_size);
  gguf_set_val_f32(out.get(), (a + "attention.layer_norm_rms_epsilon").c_str(), s.norm_eps);
  gguf_set_val_f32(out.get(), (a + "rope.freq_base").c_str(), s.rope_freq_base);
  if (s.is_mla()) {
    u32("attention.head_count_kv", 1);
    u32("attention.key_length", s.kv_lora_rank + s.qk_rope_head_dim);
    u32("attention.value_length", s.kv_lora_rank);
    u32("attention.key_length_mla", s.qk_nope_head_dim + s.qk_rope_head_dim);
    u32("attention.value_length_mla", s.v_head_dim);
    u32("attention.kv_lora_rank", s.kv_lora_rank);
    if (s.q_lora_rank > 0) u32("attention.q_lora_rank", s.q_lora_rank);
    u32("rope.dimension_count", s.qk_rope_head_dim);
  } else {
    u32("attention.head_count_kv", s.n_head_kv);
    u32("attention.key_length", s.head_dim);
    u32("attention.value_length", s.head_dim);
    u32("rope.dimension_count", s.head_dim);
  }
  if (s.sliding_window > 0) u32("attention.sliding_window", s.sliding_window);
  if (s.is_moe()) {
    u32("expert_count", s.n_expert);
    u32("expert_used_count", s.n_expert_used);
    u32("expert_feed_forward_length", s.n_ff_expert);
    if (s.n_expert_shared > 0) u32("expert_shared_count", s.n_expert_shared);
    if (s.n_layer_dense_lead > 0) u32("leading_dense_block_count", s.n_layer_dense_lead);
  }

  const auto shapes = model_tensor_shapes(s);
  ggml_init_params gp{ggml_tensor_overhead() * (shapes.size() + 1), nullptr, /*no_alloc=*/true};
  std::unique_ptr<ggml_context, GgmlFree> meta(ggml_init(gp));
  for (const auto& t : shapes) {
    const auto type_id = static_cast<ggml_type>(tensor_weight_type(type, t.name, t.layer, s.n_layer, t.ne0, s.n_expert).ggml_id);
    ggml_tensor* tensor = t.ne2 > 1 ? ggml_new_tensor_3d(meta.get(), type_id, t.ne0, t.ne1, t.ne2)
                          : t.ne1 > 1 ? ggml_new_tensor_2d(meta.get(), type_id, t.ne0, t.ne1)
                                      : ggml_new_tensor_1d(meta.get(), type_id, t.ne0);
    ggml_set_name(tensor, t.name.c_str());
    gguf_add_tensor(out.get(), tensor);
  }
  std::vector<char> header(gguf_get_meta_size(out.get()));
  gguf_get_meta_data(out.get(), header.data());
  uint64_t total = header.size();
  for (int64_t i = 0; i < gguf_get_n_tensors(out.get()); ++i) {
    total += GGML_PAD(gguf_get_tensor_size(out.get(), i), gguf_get_alignment(out.get()));
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return "cannot create " + path.string();
  const bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
  std::fclose(f);
  if (!ok) return "cannot write " + path.string();
  std::error_code ec;
  std::filesystem::resize_file(path, total, ec);  // the tensor data: a hole
  return ec ? "cannot extend " + path.string() + ": " + ec.message() : "";
}

}  // namespace batchwise::test
