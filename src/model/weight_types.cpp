#include "model/weight_types.h"

#include "core/ascii.h"

namespace batchwise {
namespace {

// ggml's type traits (ggml/src/ggml.c, ggml-common.h) for every type a GGUF file may hold.
const std::vector<WeightType> kTypes = {
    {"f32", 0, 1, 4},        {"f16", 1, 1, 2},         {"q4_0", 2, 32, 18},      {"q4_1", 3, 32, 20},
    {"q5_0", 6, 32, 22},     {"q5_1", 7, 32, 24},      {"q8_0", 8, 32, 34},      {"q8_1", 9, 32, 36},
    {"q2_k", 10, 256, 84},   {"q3_k", 11, 256, 110},   {"q4_k", 12, 256, 144},   {"q5_k", 13, 256, 176},
    {"q6_k", 14, 256, 210},  {"q8_k", 15, 256, 292},   {"iq2_xxs", 16, 256, 66}, {"iq2_xs", 17, 256, 74},
    {"iq3_xxs", 18, 256, 98}, {"iq1_s", 19, 256, 50},  {"iq4_nl", 20, 32, 18},   {"iq3_s", 21, 256, 110},
    {"iq2_s", 22, 256, 82},  {"iq4_xs", 23, 256, 136}, {"i8", 24, 1, 1},         {"i16", 25, 1, 2},
    {"i32", 26, 1, 4},       {"i64", 27, 1, 8},        {"f64", 28, 1, 8},        {"iq1_m", 29, 256, 56},
    {"bf16", 30, 1, 2},      {"tq1_0", 34, 256, 54},   {"tq2_0", 35, 256, 66},   {"mxfp4", 39, 32, 17},
    {"nvfp4", 40, 64, 36},   {"q1_0", 41, 128, 18},    {"q2_0", 42, 64, 18},
};

const WeightType& type_named(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name == name) return t;
  }
  return kTypes[1];  // f16; only reached for names spelled in this file
}

struct FileTypeInfo {
  FileType type;
  std::string_view name;
  uint32_t llama_ftype;
  std::string_view base;  // the type most tensors get
};

const FileTypeInfo kFileTypes[] = {
    {FileType::kF32, "f32", 0, "f32"},           {FileType::kF16, "f16", 1, "f16"},
    {FileType::kBF16, "bf16", 32, "bf16"},       {FileType::kQ8_0, "q8_0", 7, "q8_0"},
    {FileType::kQ6_K, "q6_k", 18, "q6_k"},       {FileType::kQ5_K_M, "q5_k_m", 17, "q5_k"},
    {FileType::kQ5_K_S, "q5_k_s", 16, "q5_k"},   {FileType::kQ4_K_M, "q4_k_m", 15, "q4_k"},
    {FileType::kQ4_K_S, "q4_k_s", 14, "q4_k"},   {FileType::kQ4_0, "q4_0", 2, "q4_0"},
    {FileType::kQ3_K_M, "q3_k_m", 12, "q3_k"},   {FileType::kQ2_K, "q2_k", 10, "q2_k"},
    {FileType::kIQ4_XS, "iq4_xs", 30, "iq4_xs"},
};

const FileTypeInfo& info(FileType type) {
  for (const auto& f : kFileTypes) {
    if (f.type == type) return f;
  }
  return kFileTypes[1];
}

// llama.cpp's use_more_bits(): the first and last eighth of the layers and every third in between.
bool use_more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// The quantizer's choice before the block-size fallback (llama-quant.cpp, llama_tensor_get_type_impl),
// for the file types batchwise names; imatrix-dependent and 70B-specific branches are left out.
std::string_view choose(FileType type, std::string_view name, int64_t layer, int64_t n_layer, int64_t n_expert) {
  const std::string_view base = info(type).base;
  if (type == FileType::kF32 || type == FileType::kF16 || type == FileType::kBF16) return base;
  const bool k_quant = base != "q8_0";
  if (name == "output.weight") return k_quant ? "q6_k" : base;
  const bool attn_v = name.ends_with("attn_v.weight");
  const bool ffn_down = name.ends_with("ffn_down.weight") || name.ends_with("ffn_down_exps.weight");
  const bool attn_out = name.ends_with("attn_output.weight");
  const bool attn_k = name.ends_with("attn_k.weight");
  if (n_expert == 8 && (attn_v || attn_k)) return "q8_0";
  if (n_expert == 8 && attn_out &&
      (type == FileType::kQ4_K_M || type == FileType::kQ4_K_S || type == FileType::kQ3_K_M || type == FileType::kQ2_K ||
       type == FileType::kIQ4_XS)) {
    return "q5_k";
  }
  switch (type) {
    case FileType::kQ4_K_M:
    case FileType::kQ5_K_M:
      if ((attn_v || ffn_down) && use_more_bits(layer, n_layer)) return "q6_k";
      break;
    case FileType::kQ4_K_S:
      if ((attn_v && layer < 4) || (ffn_down && layer < n_layer / 8)) return "q5_k";
      break;
    case FileType::kQ3_K_M:
      if (attn_v) return layer < 2 ? "q5_k" : "q4_k";
      if (ffn_down) return layer < n_layer / 16 ? "q5_k" : "q4_k";
      if (attn_out) return "q4_k";
      break;
    case FileType::kQ2_K:
      if (attn_v) return "q3_k";
      if (ffn_down || attn_out) return "q3_k";
      break;
    case FileType::kIQ4_XS:
      if (ffn_down && layer < n_layer / 8) return "q5_k";
      break;
    default: break;
  }
  return base;
}

}  // namespace

const WeightType* weight_type_by_id(int64_t ggml_id) {
  for (const auto& t : kTypes) {
    if (t.ggml_id == ggml_id) return &t;
  }
  return nullptr;
}

Expected<WeightType> parse_weight_type(std::string_view name) {
  const std::string wanted = ascii_lower(name);
  for (const auto& t : kTypes) {
    if (t.name == wanted) return t;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown tensor type `" + std::string(name) + "`: use f32, f16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0 or iq4_nl");
}

const std::vector<WeightType>& all_weight_types() { return kTypes; }

Expected<FileType> parse_file_type(std::string_view name) {
  const std::string wanted = ascii_lower(name);
  for (const auto& f : kFileTypes) {
    if (f.name == wanted) return f.type;
  }
  std::string list;
  for (const auto& f : kFileTypes) list += (list.empty() ? "" : ", ") + std::string(f.name);
  return make_error(ErrorCode::kInvalidArgument, "unknown quantization `" + std::string(name) + "`: use " + list);
}

std::string_view file_type_name(FileType type) { return info(type).name; }

std::vector<std::string> file_type_names() {
  std::vector<std::string> out;
  for (const auto& f : kFileTypes) out.emplace_back(f.name);
  return out;
}

uint32_t file_type_id(FileType type) { return info(type).llama_ftype; }

const WeightType& tensor_weight_type(FileType type, std::string_view name, int64_t layer, int64_t n_layer,
                                     int64_t row_length, int64_t n_expert) {
  // Norms, biases and the MoE router stay F32, as the quantizer leaves them.
  const bool matrix = name.ends_with(".weight") && name.find("norm") == std::string_view::npos &&
                      !name.ends_with("ffn_gate_inp.weight");
  if (!matrix) return type_named("f32");
  const WeightType& chosen = type_named(choose(type, name, layer, n_layer, n_expert));
  if (row_length % chosen.block_weights == 0) return chosen;
  // llama.cpp's fallback for rows that are not whole 256-blocks (e.g. 1408-wide expert FFNs).
  std::string_view fallback = "f16";
  if (chosen.name == "q4_k") fallback = "q5_0";
  if (chosen.name == "q5_k") fallback = "q5_1";
  if (chosen.name == "q6_k") fallback = "q8_0";
  if (chosen.name == "q2_k" || chosen.name == "q3_k" || chosen.name == "iq4_xs") fallback = "iq4_nl";
  const WeightType& second = type_named(fallback);
  return row_length % second.block_weights == 0 ? second : type_named("f16");
}

}  // namespace batchwise
