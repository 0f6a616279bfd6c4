#include "model/synth.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "core/files.h"
#include "core/log.h"
#include "core/thread.h"
#include "ggml.h"
#include "gguf.h"

namespace batchwise {
namespace {

// Chat templates for tokenizers whose vocab file carries none; llama.cpp's built-in template
// detection recognises them (Llama 3 by its header tokens, Mistral by [INST]).
constexpr const char* kLlama3Template =
    "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
constexpr const char* kMistralTemplate =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
    "message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

struct GgufDeleter {
  void operator()(gguf_context* ctx) const { gguf_free(ctx); }
};
using GgufPtr = std::unique_ptr<gguf_context, GgufDeleter>;
struct GgmlDeleter {
  void operator()(ggml_context* ctx) const { ggml_free(ctx); }
};
using GgmlPtr = std::unique_ptr<ggml_context, GgmlDeleter>;

enum class Init { kRandom, kOnes, kZeros };

struct TensorPlan {
  std::string name;
  int64_t ne0 = 0;  // row length
  int64_t ne1 = 1;  // rows
  ggml_type type = GGML_TYPE_F32;
  Init init = Init::kRandom;
  float scale = 0.02f;  // half-width of the uniform distribution
};

// The type llama.cpp's quantizer would pick for this tensor, falling back to F16 when the row length
// is not a multiple of the block (tiny models).
ggml_type weight_type(SynthQuant quant, const std::string& name, int layer, int n_layer, int64_t ne0) {
  auto more_bits = [&] { return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2; };
  ggml_type t = GGML_TYPE_F16;
  switch (quant) {
    case SynthQuant::kF16: t = GGML_TYPE_F16; break;
    case SynthQuant::kQ8_0: t = GGML_TYPE_Q8_0; break;
    case SynthQuant::kQ4_0: t = name == "output.weight" ? GGML_TYPE_Q6_K : GGML_TYPE_Q4_0; break;
    case SynthQuant::kQ4_K_M:
      t = GGML_TYPE_Q4_K;
      if (name == "output.weight") t = GGML_TYPE_Q6_K;
      if ((name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight")) && more_bits()) t = GGML_TYPE_Q6_K;
      break;
  }
  if (ne0 % ggml_blck_size(t) != 0) t = GGML_TYPE_F16;
  return t;
}

std::vector<TensorPlan> plan_tensors(const ModelSpec& s, SynthQuant quant) {
  std::vector<TensorPlan> out;
  const int n_layer = static_cast<int>(s.n_layer);
  // A layer's matrices shrink as 1/sqrt(fan-in) past 128 inputs, so that activations stay near the
  // same size at any width: at 0.6 for every width, a Llama-3.1-8B's FFN outputs reach an estimated
  // 1e4-1e5, past what CUDA's half-precision accumulation holds (llama.cpp's on-device argmax found
  // no token: NaN logits). The tiny model (fan-in 64 and 128) is unchanged.
  auto layer_scale = [](int64_t fan_in) { return 0.6f * std::min(1.0f, std::sqrt(128.0f / static_cast<float>(fan_in))); };
  auto matrix = [&](std::string name, int64_t ne0, int64_t ne1, int layer, float scale) {
    TensorPlan t{name, ne0, ne1, weight_type(quant, name, layer, n_layer, ne0), Init::kRandom, scale};
    out.push_back(std::move(t));
  };
  auto vector = [&](std::string name, int64_t n, Init init) {
    out.push_back(TensorPlan{std::move(name), n, 1, GGML_TYPE_F32, init, 0.0f});
  };
  const int64_t q_dim = s.n_head * s.head_dim;
  const int64_t kv_dim = s.n_head_kv * s.head_dim;
  // Embedding rows are wide so that a tied output projection gives logits with clear margins.
  matrix("token_embd.weight", s.n_embd, s.vocab_size, 0, 1.0f);
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    vector(p + "attn_norm.weight", s.n_embd, Init::kOnes);
    matrix(p + "attn_q.weight", s.n_embd, q_dim, i, layer_scale(s.n_embd));
    matrix(p + "attn_k.weight", s.n_embd, kv_dim, i, layer_scale(s.n_embd));
    matrix(p + "attn_v.weight", s.n_embd, kv_dim, i, layer_scale(s.n_embd));
    if (s.attention_bias) {
      vector(p + "attn_q.bias", q_dim, Init::kZeros);
      vector(p + "attn_k.bias", kv_dim, Init::kZeros);
      vector(p + "attn_v.bias", kv_dim, Init::kZeros);
    }
    matrix(p + "attn_output.weight", q_dim, s.n_embd, i, layer_scale(q_dim));
    vector(p + "ffn_norm.weight", s.n_embd, Init::kOnes);
    matrix(p + "ffn_gate.weight", s.n_embd, s.n_ff, i, layer_scale(s.n_embd));
    matrix(p + "ffn_up.weight", s.n_embd, s.n_ff, i, layer_scale(s.n_embd));
    matrix(p + "ffn_down.weight", s.n_ff, s.n_embd, i, layer_scale(s.n_ff));
  }
  vector("output_norm.weight", s.n_embd, Init::kOnes);
  if (!s.tied_embeddings) matrix("output.weight", s.n_embd, s.vocab_size, n_layer, 1.0f);
  return out;
}

uint32_t file_type_id(SynthQuant quant) {
  switch (quant) {  // llama_ftype values, as llama.cpp writes them in general.file_type
    case SynthQuant::kF16: return 1;
    case SynthQuant::kQ4_0: return 2;
    case SynthQuant::kQ8_0: return 7;
    case SynthQuant::kQ4_K_M: return 15;
  }
  return 1;
}

// splitmix64: fast, seedable, good enough for weights nobody reads.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Fills rows [row0, row0+nrows) of the tensor and converts them to its type in `dst`.
void fill_rows(const TensorPlan& t, uint64_t seed, int64_t row0, int64_t nrows, std::vector<float>& scratch, char* dst) {
  scratch.resize(static_cast<size_t>(t.ne0 * nrows));
  for (int64_t r = 0; r < nrows; ++r) {
    uint64_t state = seed ^ (static_cast<uint64_t>(row0 + r) * 0xd1b54a32d192ed03ULL);
    float* row = scratch.data() + r * t.ne0;
    for (int64_t c = 0; c < t.ne0; ++c) {
      switch (t.init) {
        case Init::kOnes: row[c] = 1.0f; break;
        case Init::kZeros: row[c] = 0.0f; break;
        case Init::kRandom: {
          const double u = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;  // [0, 1)
          row[c] = static_cast<float>((2.0 * u - 1.0) * t.scale);
          break;
        }
      }
    }
  }
  if (t.type == GGML_TYPE_F32) {
    std::copy(scratch.begin(), scratch.end(), reinterpret_cast<float*>(dst));
  } else if (t.type == GGML_TYPE_F16) {
    ggml_fp32_to_fp16_row(scratch.data(), reinterpret_cast<ggml_fp16_t*>(dst), t.ne0 * nrows);
  } else {
    ggml_quantize_chunk(t.type, scratch.data(), dst, 0, nrows, t.ne0, nullptr);
  }
}

// Generates one tensor's bytes with `threads` workers over row chunks. A worker whose chunk throws (its
// scratch buffer cannot be allocated) fails the tensor, and with it the file, instead of the process.
Expected<std::vector<char>> make_tensor_data(const TensorPlan& t, uint64_t seed, int threads) {
  const size_t row_bytes = ggml_row_size(t.type, t.ne0);
  std::vector<char> data(row_bytes * static_cast<size_t>(t.ne1));
  const int64_t chunks = std::min<int64_t>(threads, t.ne1);
  const int64_t rows_per = (t.ne1 + chunks - 1) / chunks;
  std::mutex mu;
  std::optional<std::string> escaped;  // the first worker's exception, under mu
  std::vector<std::thread> workers;
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t row0 = c * rows_per;
    const int64_t nrows = std::min(rows_per, t.ne1 - row0);
    if (nrows <= 0) break;
    workers.push_back(run_thread("synth", [&, row0, nrows] {
      std::vector<float> scratch;
      fill_rows(t, seed, row0, nrows, scratch, data.data() + row_bytes * static_cast<size_t>(row0));
    }, [&](const std::string& what) {
      std::lock_guard lock(mu);
      if (!escaped) escaped = what;
    }));
  }
  for (auto& w : workers) w.join();
  if (escaped) return make_error(ErrorCode::kInternal, "cannot generate tensor " + t.name + ": " + *escaped);
  return data;
}

Status set_metadata(gguf_context* out, const ModelSpec& s, SynthQuant quant, const gguf_context* vocab) {
  // Keep only the tokenizer from the vocab file; everything about the network is ours.
  gguf_set_kv(out, vocab);
  for (int64_t i = gguf_get_n_kv(out) - 1; i >= 0; --i) {
    const std::string key = gguf_get_key(out, i);
    if (!key.starts_with("tokenizer.")) gguf_remove_key(out, key.c_str());
  }
  const std::string a = s.architecture;
  auto u32 = [&](const std::string& k, int64_t v) { gguf_set_val_u32(out, (a + "." + k).c_str(), static_cast<uint32_t>(v)); };
  auto f32 = [&](const std::string& k, float v) { gguf_set_val_f32(out, (a + "." + k).c_str(), v); };
  gguf_set_val_str(out, "general.architecture", a.c_str());
  gguf_set_val_str(out, "general.name", ("batchwise synthetic " + s.name).c_str());
  gguf_set_val_u32(out, "general.file_type", file_type_id(quant));
  gguf_set_val_u32(out, "general.quantization_version", GGML_QNT_VERSION);
  gguf_set_val_bool(out, "batchwise.synthetic", true);
  gguf_set_val_str(out, "batchwise.preset", s.name.c_str());
  u32("context_length", s.n_ctx_train);
  if (s.pooling_type != 0) u32("pooling_type", s.pooling_type);
  u32("embedding_length", s.n_embd);
  u32("block_count", s.n_layer);
  u32("feed_forward_length", s.n_ff);
  u32("attention.head_count", s.n_head);
  u32("attention.head_count_kv", s.n_head_kv);
  u32("attention.key_length", s.head_dim);
  u32("attention.value_length", s.head_dim);
  u32("rope.dimension_count", s.head_dim);
  u32("vocab_size", s.vocab_size);
  f32("attention.layer_norm_rms_epsilon", s.norm_eps);
  f32("rope.freq_base", s.rope_freq_base);
  if (gguf_find_key(out, "tokenizer.chat_template") < 0) {
    const bool spm = s.vocab.find("spm") != std::string::npos;
    gguf_set_val_str(out, "tokenizer.chat_template", spm ? kMistralTemplate : kLlama3Template);
  }
  return {};
}

}  // namespace

Expected<SynthQuant> parse_synth_quant(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "f16") return SynthQuant::kF16;
  if (n == "q8_0") return SynthQuant::kQ8_0;
  if (n == "q4_0") return SynthQuant::kQ4_0;
  if (n == "q4_k_m") return SynthQuant::kQ4_K_M;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown quantization `" + std::string(name) + "`: use f16, q8_0, q4_0 or q4_k_m");
}

std::string_view synth_quant_name(SynthQuant quant) {
  switch (quant) {
    case SynthQuant::kF16: return "f16";
    case SynthQuant::kQ8_0: return "q8_0";
    case SynthQuant::kQ4_0: return "q4_0";
    case SynthQuant::kQ4_K_M: return "q4_k_m";
  }
  return "f16";
}

Expected<std::filesystem::path> find_vocab_file(std::string_view vocab_name) {
  const std::string file = "ggml-vocab-" + std::string(vocab_name) + ".gguf";
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("BATCHWISE_VOCAB_DIR"); env && *env) dirs.emplace_back(env);
  if (const auto share = installed_share_dir(); !share.empty()) dirs.emplace_back(share / "vocab");
  dirs.emplace_back(BATCHWISE_VOCAB_DIR);
  for (const auto& d : dirs) {
    if (std::filesystem::exists(d / file)) return d / file;
  }
  return make_error(ErrorCode::kNotFound, "tokenizer " + file + " not found in " + dirs.back().string() +
                                              ": set BATCHWISE_VOCAB_DIR to llama.cpp's models/ folder");
}

Expected<SynthResult> synth_model(const SynthOptions& options) {
  ModelSpec spec = options.spec;
  // synth writes llama-like dense tensors only; other presets are for `plan`.
  if ((spec.architecture != "llama" && spec.architecture != "qwen2") || spec.is_moe() || spec.is_mla() ||
      spec.has_swa() || spec.qk_norm) {
    return make_error(ErrorCode::kUnsupported, "synth writes dense llama and qwen2 models only; `" + spec.name +
                                                   "` (" + spec.architecture + ") is for `batchwise plan`");
  }
  std::filesystem::path vocab_path = options.vocab_file;
  if (vocab_path.empty()) {
    BW_ASSIGN_OR_RETURN(vocab_path, find_vocab_file(spec.vocab));
  }
  gguf_init_params vocab_params{/*no_alloc=*/true, /*ctx=*/nullptr};
  GgufPtr vocab(gguf_init_from_file(vocab_path.c_str(), vocab_params));
  if (!vocab) return make_error(ErrorCode::kCorrupt, "cannot read tokenizer " + vocab_path.string());
  const int64_t tokens_key = gguf_find_key(vocab.get(), "tokenizer.ggml.tokens");
  if (tokens_key < 0) return make_error(ErrorCode::kCorrupt, vocab_path.string() + " has no tokenizer.ggml.tokens");
  const auto n_tokens = static_cast<int64_t>(gguf_get_arr_n(vocab.get(), tokens_key));
  if (spec.vocab_size != n_tokens) {
    log_debug("vocab_size " + std::to_string(spec.vocab_size) + " -> " + std::to_string(n_tokens) + " (tokenizer's count)");
    spec.vocab_size = n_tokens;
  }
  if (spec.n_embd <= 0 || spec.n_layer <= 0 || spec.n_head <= 0 || spec.n_head_kv <= 0 || spec.head_dim <= 0 ||
      spec.n_ff <= 0 || spec.n_head % spec.n_head_kv != 0) {
    return make_error(ErrorCode::kInvalidArgument, "model `" + spec.name + "` has inconsistent shapes");
  }

  GgufPtr out(gguf_init_empty());
  BW_TRY(set_metadata(out.get(), spec, options.quant, vocab.get()));

  const std::vector<TensorPlan> tensors = plan_tensors(spec, options.quant);
  ggml_init_params meta_params{/*mem_size=*/ggml_tensor_overhead() * (tensors.size() + 1), /*mem_buffer=*/nullptr,
                               /*no_alloc=*/true};
  GgmlPtr meta(ggml_init(meta_params));
  SynthResult result;
  for (const auto& t : tensors) {
    ggml_tensor* tensor = t.ne1 == 1 && t.type == GGML_TYPE_F32 ? ggml_new_tensor_1d(meta.get(), t.type, t.ne0)
                                                                : ggml_new_tensor_2d(meta.get(), t.type, t.ne0, t.ne1);
    ggml_set_name(tensor, t.name.c_str());
    gguf_add_tensor(out.get(), tensor);
    result.parameter_count += t.ne0 * t.ne1;
  }
  result.tensor_count = static_cast<int64_t>(tensors.size());
  result.vocab_tokens = n_tokens;

  // A per-process name: parallel makers of the same cached model never share a partial file.
  const std::string tmp = options.output.string() + ".partial." + std::to_string(::getpid());
  UniqueFile file(std::fopen(tmp.c_str(), "wb"));
  if (!file) return make_error(ErrorCode::kIo, "cannot create " + tmp);
  std::vector<char> header(gguf_get_meta_size(out.get()));
  gguf_get_meta_data(out.get(), header.data());
  uint64_t total_bytes = header.size();
  for (int64_t i = 0; i < gguf_get_n_tensors(out.get()); ++i) {
    total_bytes += GGML_PAD(gguf_get_tensor_size(out.get(), i), gguf_get_alignment(out.get()));
  }
  auto write = [&](const void* data, size_t n) -> Status {
    if (n == 0) return {};  // fwrite's buffer may not be null, and an empty padding's data() is
    if (std::fwrite(data, 1, n, file.get()) != n) {
      std::filesystem::remove(tmp);
      return make_error(ErrorCode::kIo, "cannot write " + tmp + " (disk full?)");
    }
    return {};
  };
  BW_TRY(write(header.data(), header.size()));
  uint64_t written = header.size();
  const int threads = options.threads > 0 ? options.threads : usable_cpus();
  const size_t alignment = gguf_get_alignment(out.get());
  for (size_t i = 0; i < tensors.size(); ++i) {
    Expected<std::vector<char>> made = make_tensor_data(tensors[i], options.seed + i * 7919, threads);
    if (!made) {
      std::filesystem::remove(tmp);
      return std::unexpected(made.error());
    }
    const std::vector<char>& data = *made;
    BW_TRY(write(data.data(), data.size()));
    const size_t padding = GGML_PAD(data.size(), alignment) - data.size();
    const std::vector<char> zeros(padding, 0);
    BW_TRY(write(zeros.data(), zeros.size()));
    written += data.size() + padding;
    if (options.on_progress) options.on_progress(written, total_bytes);
  }
  if (std::fflush(file.get()) != 0) return make_error(ErrorCode::kIo, "cannot flush " + tmp + " (disk full?)");
  file.reset();
  std::error_code ec;
  std::filesystem::rename(tmp, options.output, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot rename " + tmp + ": " + ec.message());
  result.file_bytes = written;
  return result;
}

Expected<std::filesystem::path> default_tiny_model() {
  BW_ASSIGN_OR_RETURN(std::filesystem::path dir, cache_dir());
  BW_ASSIGN_OR_RETURN(ModelSpec spec, find_preset("tiny"));
  // The name carries a hash of the preset's shapes, so a changed preset makes a new file.
  const std::string key = spec.architecture + spec.vocab + std::to_string(spec.n_embd) + std::to_string(spec.n_layer) +
                          std::to_string(spec.n_head) + std::to_string(spec.n_head_kv) + std::to_string(spec.n_ff) +
                          std::to_string(spec.n_ctx_train) + "v2";
  const auto path = dir / ("tiny-" + hex64(fnv1a64(key)).substr(0, 8) + ".gguf");
  if (std::filesystem::exists(path)) return path;
  log_info("making the default synthetic tiny model (once): " + path.string());
  SynthOptions options;
  options.spec = spec;
  options.output = path;
  BW_TRY(synth_model(options));
  return path;
}

}  // namespace batchwise
