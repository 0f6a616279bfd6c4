// `batchwise synth`: a random-weight GGUF with a real model's shapes.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "cli/output_guard.h"
#include "core/log.h"
#include "core/files.h"
#include "model/hf_config.h"
#include "model/synth.h"

namespace batchwise {
namespace {

struct SynthFlags {
  std::string model = "tiny";
  std::string config;  // a HuggingFace config.json instead of a preset
  std::string quant = "f16";
  std::string output;
  uint64_t seed = 42;
  int threads = 0;
  bool json = false;
  bool list = false;
  bool force = false;
  std::string pooling = "none";  // an embedding model's pooling
};

// --pooling: llama.cpp's llama_pooling_type numbers for the names.
Expected<int> pooling_type_named(const std::string& name) {
  const std::pair<const char*, int> kinds[] = {{"none", 0}, {"mean", 1}, {"cls", 2}, {"last", 3}};
  for (const auto& [n, v] : kinds) {
    if (name == n) return v;
  }
  return make_error(ErrorCode::kInvalidArgument, "--pooling " + name + ": give none, mean, cls or last");
}

// The shapes of a HuggingFace config.json, written with the tokenizer closest to the model's own
// (llama.cpp ships the Llama-3 and Qwen2 vocabularies; the token count follows the tokenizer).
Expected<ModelSpec> spec_from_config_file(const std::string& path) {
  BW_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto spec = spec_from_hf_config(text);
  if (!spec) return make_error(spec.error().code, path + ": " + spec.error().message);
  spec->vocab = spec->architecture.starts_with("qwen") ? "qwen2" : "llama-bpe";
  return spec;
}

int run_synth(const SynthFlags& f) {
  if (f.list) {
    auto names = preset_names();
    if (!names) return report_error(names.error());
    for (const auto& n : *names) {
      auto spec = find_preset(n);
      if (!spec) return report_error(spec.error());
      std::printf("%-14s %-6s %5.2fB params, %lld layers, n_embd %lld, %lld/%lld heads, vocab %s\n", n.c_str(),
                  spec->architecture.c_str(), spec->parameter_count() / 1e9, (long long)spec->n_layer,
                  (long long)spec->n_embd, (long long)spec->n_head, (long long)spec->n_head_kv, spec->vocab.c_str());
    }
    return kExitOk;
  }
  auto spec = f.config.empty() ? find_preset(f.model) : spec_from_config_file(f.config);
  if (!spec) return report_error(spec.error());
  auto quant = parse_synth_quant(f.quant);
  if (!quant) return report_error(quant.error());
  auto pooling = pooling_type_named(f.pooling);
  if (!pooling) return report_error(pooling.error());
  SynthOptions options;
  options.spec = *spec;
  options.spec.pooling_type = *pooling;
  options.quant = *quant;
  const std::string stem = f.config.empty() ? f.model : std::filesystem::path(f.config).parent_path().filename().string();
  options.output = f.output.empty() ? (stem.empty() ? "model" : stem) + "-" + f.quant + ".gguf" : f.output;
  if (auto st = refuse_overwrite(options.output, f.output.empty() ? "the default output" : "-o", f.force); !st) {
    return report_error(st.error());
  }
  options.seed = f.seed;
  options.threads = f.threads;
  int last_percent = -10;
  options.on_progress = [&](uint64_t done, uint64_t total) {
    const int percent = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
    if (percent >= last_percent + 10 || done == total) {
      last_percent = percent;
      log_info("synth: " + std::to_string(percent) + "% (" + std::to_string(done >> 20) + " MiB)");
    }
  };
  log_warn("a synthetic model has random weights: its outputs are meaningless text, its speed and memory are real");
  auto result = synth_model(options);
  if (!result) return report_error(result.error());
  if (f.json) {
    nlohmann::json j = {{"path", options.output.string()},   {"preset", spec->name},
                        {"quant", synth_quant_name(*quant)}, {"parameter_count", result->parameter_count},
                        {"file_bytes", result->file_bytes},   {"tensor_count", result->tensor_count},
                        {"vocab_tokens", result->vocab_tokens}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s: %s %s, %.3fB parameters, %lld tensors, %.1f MiB\n", options.output.c_str(), spec->name.c_str(),
                std::string(synth_quant_name(*quant)).c_str(), result->parameter_count / 1e9,
                (long long)result->tensor_count, result->file_bytes / 1048576.0);
  }
  return kExitOk;
}

}  // namespace

Verb add_synth_command(CLI::App& app) {
  auto flags = std::make_shared<SynthFlags>();
  auto* sub = app.add_subcommand("synth", "write a random-weight GGUF with a real model's shapes and tokenizer");
  sub->add_option("-m,--model", flags->model, "preset name (see --list)")->capture_default_str();
  sub->add_option("--config", flags->config, "a HuggingFace config.json to take the shapes from instead of a preset")
      ->check(CLI::ExistingFile);
  sub->add_option("--quant", flags->quant, "weight type: f16, q8_0, q4_0, q4_k_m")->capture_default_str();
  sub->add_option("-o,--output", flags->output, "output file (default: MODEL-QUANT.gguf)");
  sub->add_flag("--force", flags->force, "replace the output file if it exists");
  sub->add_option("--seed", flags->seed, "random seed for the weights")->capture_default_str();
  sub->add_option("-t,--threads", flags->threads, "threads (0: all cores)")->capture_default_str();
  sub->add_option("--pooling", flags->pooling,
                  "none, or an embedding model's pooling (mean, cls, last): `run` then answers /v1/embeddings with it")
      ->capture_default_str();
  sub->add_flag("--json", flags->json, "print the result as JSON");
  sub->add_flag("--list", flags->list, "list the presets and exit");
  return {sub, [flags] { return run_synth(*flags); }};
}

}  // namespace batchwise
