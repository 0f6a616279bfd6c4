#include "job/workload.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/files.h"

namespace batchwise {
namespace {

constexpr const char* kWords[] = {
    "the", "candidate", "should", "demonstrate", "clear", "evidence", "of", "experience", "with", "distributed",
    "systems", "and", "a", "record", "shipping", "reliable", "software", "score", "each", "criterion", "from",
    "one", "to", "five", "where", "means", "no", "strong", "consider", "communication", "ownership", "testing",
    "design", "review", "quality", "team", "impact", "project", "deliver", "measured", "results", "under",
    "pressure", "explain", "reasoning", "briefly", "before", "giving", "final", "answer", "in", "json", "format",
    "weight", "technical", "depth", "more", "than", "years", "title", "if", "unclear", "mark", "as", "unknown",
    "do", "not", "guess", "only", "use", "information", "provided", "below", "rubric", "section", "profile",
    "led", "migration", "database", "latency", "reduced", "built", "pipeline", "mentored", "engineers",
    "improved", "coverage", "wrote", "documentation", "customers", "production", "incident", "on", "call"};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);
// Llama-3's tokenizer spends about 1.1 tokens per word of this vocabulary (measured with batchwise's
// run on the tiny model: usage.prompt_tokens over words).
constexpr double kTokensPerWord = 1.1;

uint64_t next(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double uniform(uint64_t& s) { return static_cast<double>(next(s) >> 11) * 0x1.0p-53; }

// Log-normal with the given median and shape, clamped.
int64_t lognormal(uint64_t& s, double median, double sigma, int64_t lo, int64_t hi) {
  const double u1 = std::max(uniform(s), 1e-12), u2 = uniform(s);
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  return std::clamp(static_cast<int64_t>(median * std::exp(sigma * z)), lo, hi);
}

nlohmann::json chat_line(const std::string& id, const std::string& model, nlohmann::json messages, int64_t max_tokens,
                         bool ignore_eos) {
  nlohmann::json body = {{"model", model}, {"messages", std::move(messages)}, {"max_tokens", max_tokens},
                         {"temperature", 0}};
  if (ignore_eos) body["ignore_eos"] = true;
  return {{"custom_id", id}, {"method", "POST"}, {"url", "/v1/chat/completions"}, {"body", body}};
}

}  // namespace

Expected<WorkloadKind> parse_workload_kind(std::string_view name) {
  if (name == "seed") return WorkloadKind::kSeed;
  if (name == "chat") return WorkloadKind::kChat;
  if (name == "long") return WorkloadKind::kLong;
  return make_error(ErrorCode::kInvalidArgument, "unknown workload `" + std::string(name) + "`: use seed, chat or long");
}

std::string synthetic_text(uint64_t& rng_state, int64_t tokens) {
  const auto words = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(tokens) / kTokensPerWord));
  std::string text;
  for (int64_t i = 0; i < words; ++i) {
    if (i > 0) text += (i % 17 == 0) ? ". " : " ";
    text += kWords[next(rng_state) % kWordCount];
  }
  return text + ".";
}

Status write_workload(const WorkloadOptions& o, const std::filesystem::path& path) {
  if (o.count < 1) return make_error(ErrorCode::kInvalidArgument, "-n must be at least 1");
  UniqueFile file(std::fopen(path.c_str(), "wb"));
  if (!file) return make_error(ErrorCode::kIo, "cannot create " + path.string());
  uint64_t rng = o.seed;
  std::string rubric;
  if (o.kind == WorkloadKind::kSeed) {
    rubric = "You are a careful reviewer. Score the candidate below against this rubric. " +
             synthetic_text(rng, std::max<int64_t>(1, o.prefix_tokens - 16));
  }
  for (int64_t i = 0; i < o.count; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "req-%07lld", (long long)i);
    nlohmann::json line;
    switch (o.kind) {
      case WorkloadKind::kSeed:
        line = chat_line(id, o.model,
                         {{{"role", "system"}, {"content", rubric}},
                          {{"role", "user"}, {"content", "Candidate " + std::to_string(i) + ": " +
                                                             synthetic_text(rng, std::max<int64_t>(1, o.unique_tokens - 6))}}},
                         o.output_tokens, o.ignore_eos);
        break;
      case WorkloadKind::kChat:
        line = chat_line(id, o.model, {{{"role", "user"}, {"content", synthetic_text(rng, lognormal(rng, 200, 0.8, 8, 4000))}}},
                         lognormal(rng, 128, 0.6, 8, 1024), o.ignore_eos);
        break;
      case WorkloadKind::kLong:
        line = chat_line(id, o.model, {{{"role", "user"}, {"content", synthetic_text(rng, lognormal(rng, 6000, 0.3, 2000, 30000))}}},
                         256, o.ignore_eos);
        break;
    }
    const std::string text = line.dump() + "\n";
    if (std::fwrite(text.data(), 1, text.size(), file.get()) != text.size()) {
      return make_error(ErrorCode::kIo, "cannot write " + path.string() + " (disk full?)");
    }
  }
  if (std::fflush(file.get()) != 0) return make_error(ErrorCode::kIo, "cannot write " + path.string());
  return {};
}

}  // namespace batchwise
