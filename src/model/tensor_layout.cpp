#include "model/tensor_layout.h"

namespace batchwise {
namespace {

class Layout {
 public:
  explicit Layout(const ModelSpec& s) : s_(s) {}

  void matrix(const std::string& name, int64_t layer, int64_t ne0, int64_t ne1, int64_t experts = 1) {
    out_.push_back(TensorShape{name, layer, ne0, ne1, experts, experts > 1});
  }
  void vec(const std::string& name, int64_t layer, int64_t n) { out_.push_back(TensorShape{name, layer, n, 1, 1, false}); }

  void attention(const std::string& p, int64_t il) {
    const int64_t q_dim = s_.n_head * s_.head_dim;
    const int64_t kv_dim = s_.n_head_kv * s_.head_dim;
    matrix(p + "attn_q.weight", il, s_.n_embd, q_dim);
    matrix(p + "attn_k.weight", il, s_.n_embd, kv_dim);
    matrix(p + "attn_v.weight", il, s_.n_embd, kv_dim);
    if (s_.attention_bias) {
      vec(p + "attn_q.bias", il, q_dim);
      vec(p + "attn_k.bias", il, kv_dim);
      vec(p + "attn_v.bias", il, kv_dim);
    }
    if (s_.qk_norm) {
      vec(p + "attn_q_norm.weight", il, s_.head_dim);
      vec(p + "attn_k_norm.weight", il, s_.head_dim);
    }
    matrix(p + "attn_output.weight", il, q_dim, s_.n_embd);
  }

  // DeepSeek-V2/V3 latent attention, as llama.cpp's deepseek2 loads it (k_b/v_b split per head).
  void mla(const std::string& p, int64_t il) {
    const int64_t qk_head = s_.qk_nope_head_dim + s_.qk_rope_head_dim;
    if (s_.q_lora_rank > 0) {
      matrix(p + "attn_q_a.weight", il, s_.n_embd, s_.q_lora_rank);
      vec(p + "attn_q_a_norm.weight", il, s_.q_lora_rank);
      matrix(p + "attn_q_b.weight", il, s_.q_lora_rank, s_.n_head * qk_head);
    } else {
      matrix(p + "attn_q.weight", il, s_.n_embd, s_.n_head * qk_head);
    }
    matrix(p + "attn_kv_a_mqa.weight", il, s_.n_embd, s_.kv_lora_rank + s_.qk_rope_head_dim);
    vec(p + "attn_kv_a_norm.weight", il, s_.kv_lora_rank);
    out_.push_back(TensorShape{p + "attn_k_b.weight", il, s_.qk_nope_head_dim, s_.kv_lora_rank, s_.n_head, false});
    out_.push_back(TensorShape{p + "attn_v_b.weight", il, s_.kv_lora_rank, s_.v_head_dim, s_.n_head, false});
    matrix(p + "attn_output.weight", il, s_.n_head * s_.v_head_dim, s_.n_embd);
  }

  void ffn(const std::string& p, int64_t il) {
    if (!s_.is_moe_layer(il)) {
      matrix(p + "ffn_gate.weight", il, s_.n_embd, s_.n_ff);
      matrix(p + "ffn_up.weight", il, s_.n_embd, s_.n_ff);
      matrix(p + "ffn_down.weight", il, s_.n_ff, s_.n_embd);
      return;
    }
    matrix(p + "ffn_gate_inp.weight", il, s_.n_embd, s_.n_expert);
    matrix(p + "ffn_gate_exps.weight", il, s_.n_embd, s_.n_ff_expert, s_.n_expert);
    matrix(p + "ffn_up_exps.weight", il, s_.n_embd, s_.n_ff_expert, s_.n_expert);
    matrix(p + "ffn_down_exps.weight", il, s_.n_ff_expert, s_.n_embd, s_.n_expert);
    if (s_.n_expert_shared > 0) {
      const int64_t shared_ff = s_.n_ff_expert * s_.n_expert_shared;
      matrix(p + "ffn_gate_shexp.weight", il, s_.n_embd, shared_ff);
      matrix(p + "ffn_up_shexp.weight", il, s_.n_embd, shared_ff);
      matrix(p + "ffn_down_shexp.weight", il, shared_ff, s_.n_embd);
    }
  }

  std::vector<TensorShape> build() {
    const bool gemma = s_.architecture.starts_with("gemma");
    matrix("token_embd.weight", -1, s_.n_embd, s_.vocab_size);
    for (int64_t il = 0; il < s_.n_layer; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      vec(p + "attn_norm.weight", il, s_.n_embd);
      if (s_.is_mla()) {
        mla(p, il);
      } else {
        attention(p, il);
      }
      if (gemma) vec(p + "post_attention_norm.weight", il, s_.n_embd);
      vec(p + "ffn_norm.weight", il, s_.n_embd);
      ffn(p, il);
      if (gemma) vec(p + "post_ffw_norm.weight", il, s_.n_embd);
    }
    vec("output_norm.weight", -1, s_.n_embd);
    if (!s_.tied_embeddings) matrix("output.weight", -1, s_.n_embd, s_.vocab_size);
    return std::move(out_);
  }

 private:
  const ModelSpec& s_;
  std::vector<TensorShape> out_;
};

}  // namespace

std::vector<TensorShape> model_tensor_shapes(const ModelSpec& spec) { return Layout(spec).build(); }

}  // namespace batchwise
