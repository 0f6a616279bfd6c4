// /v1/embeddings on the embedded engine: a model whose GGUF names a pooling type (synth --pooling) answers them in
// embedding lanes. Each vector is the model's width and of length 1; the same text gives the same vector whatever
// else shares its batch; the vectors equal llama-server's /v1/embeddings on the same GGUF; base64 decodes to them;
// a chat line on an embedding model, or an embeddings line on a generative one, fails saying what to give instead.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "llama_server_process.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

const char* const kTexts[] = {"The rubric says: clarity.", "first", "second text here", "Candidate 7 wrote a parser."};

nlohmann::json embeddings_line(const std::string& id, const nlohmann::json& input, const nlohmann::json& extra = {}) {
  nlohmann::json body = {{"model", "emb"}, {"input", input}};
  for (const auto& [k, v] : extra.items()) body[k] = v;
  return {{"custom_id", id}, {"method", "POST"}, {"url", "/v1/embeddings"}, {"body", body}};
}

std::vector<float> floats_of(const nlohmann::json& embedding) {
  if (embedding.is_array()) return embedding.get<std::vector<float>>();
  // base64 of little-endian float32s: decode through the encoder's inverse, checked by re-encoding.
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string text = embedding.get<std::string>();
  std::string bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    acc = acc << 6 | static_cast<uint32_t>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) bytes += static_cast<char>((acc >> (bits -= 8)) & 0xff);
  }
  EXPECT_EQ(base64_encode(bytes), text);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e9;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  return d;
}

class Embeddings : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir();
    model_ = dir_ / "emb.gguf";
    const auto r = run_batchwise({"synth", "-m", "tiny", "--pooling", "mean", "-o", model_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::filesystem::path dir_, model_;
};

TEST_F(Embeddings, UnitVectorsOfTheModelsWidthTheSameWhateverShareTheirBatch) {
  std::string input;
  input += embeddings_line("alone", kTexts[0]).dump() + "\n";
  input += embeddings_line("many", {kTexts[1], kTexts[0], kTexts[2]}).dump() + "\n";
  input += embeddings_line("base64", {kTexts[3], kTexts[0]}, {{"encoding_format", "base64"}}).dump() + "\n";
  input += embeddings_line("ids", {{1, 2, 3, 4}}).dump() + "\n";
  input += embeddings_line("cut", kTexts[0], {{"dimensions", 8}}).dump() + "\n";
  input += nlohmann::json{{"custom_id", "chat"}, {"url", "/v1/chat/completions"},
                          {"body", {{"messages", {{{"role", "user"}, {"content", "hi"}}}}}}}.dump() + "\n";
  write_text(dir_ / "in.jsonl", input);
  // Three inputs a batch: requests span batches, and 3 divides no power of two (llama.cpp's pooling graph needs the
  // batch's tokens to divide evenly over its sequences: the engine sizes the batch for that).
  const auto r = run_batchwise({"run", (dir_ / "in.jsonl").string(), "-o", (dir_ / "out.jsonl").string(), "-m",
                                model_.string(), "--parallel", "3", "--json"});
  ASSERT_EQ(r.exit_code, 1) << r.err;  // finished, with the two refused lines failed
  EXPECT_NE(r.err.find("an embedding model (mean pooling)"), std::string::npos) << r.err;
  const auto ok = lines_by_id(read_jsonl(dir_ / "out.jsonl"));
  const auto failed = lines_by_id(read_jsonl(dir_ / "out.errors.jsonl"));
  ASSERT_EQ(ok.size(), 4u);
  ASSERT_EQ(failed.size(), 2u);
  int64_t prompt_tokens = 0;
  for (const auto& [id, line] : ok) {
    const auto& body = line["response"]["body"];
    EXPECT_EQ(body["object"], "list");
    for (const auto& item : body["data"]) {
      const auto v = floats_of(item["embedding"]);
      ASSERT_EQ(v.size(), 64u) << id << ": the tiny model's width";
      double norm = 0;
      for (float x : v) norm += static_cast<double>(x) * x;
      EXPECT_NEAR(norm, 1.0, 1e-5) << id;
    }
    prompt_tokens += body["usage"]["prompt_tokens"].get<int64_t>();
  }
  EXPECT_EQ(ok.at("ids")["response"]["body"]["usage"]["prompt_tokens"], 4);
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"]["prompt"].get<int64_t>(), prompt_tokens);
  // The rubric's text alone, second of three, and second of two in base64: one vector (a sequence's pooling sees
  // its own tokens only).
  const auto alone = floats_of(ok.at("alone")["response"]["body"]["data"][0]["embedding"]);
  EXPECT_LT(max_difference(alone, floats_of(ok.at("many")["response"]["body"]["data"][1]["embedding"])), 1e-5);
  EXPECT_LT(max_difference(alone, floats_of(ok.at("base64")["response"]["body"]["data"][1]["embedding"])), 1e-5);
  EXPECT_GT(max_difference(alone, floats_of(ok.at("many")["response"]["body"]["data"][0]["embedding"])), 1e-2)
      << "other texts give other vectors";
  EXPECT_NE(failed.at("cut")["error"]["message"].get<std::string>().find("`dimensions`"), std::string::npos);
  EXPECT_NE(failed.at("chat")["error"]["message"].get<std::string>().find("is an embedding model"), std::string::npos);
}

TEST_F(Embeddings, AGenerativeModelRefusesThemSayingWhatToGive) {
  ensure_tiny_model();
  write_text(dir_ / "in.jsonl", embeddings_line("e", "text").dump() + "\n");
  const auto r = run_batchwise({"run", (dir_ / "in.jsonl").string(), "-o", (dir_ / "out.jsonl").string(), "-q"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto failed = read_jsonl(dir_ / "out.errors.jsonl");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0]["error"]["message"].get<std::string>().find("not an embedding model"), std::string::npos)
      << failed[0].dump();
}

#ifdef LLAMA_SERVER_BIN
// llama-server with one slot (with several slots and no -kvu its second input of a request came out different from
// the same text alone: a llama-server artefact, which one slot or -kvu does not show).
TEST_F(Embeddings, EqualLlamaServersOnTheSameGguf) {
  std::string error;
  auto server = start_llama_server(LLAMA_SERVER_BIN, model_, {"--embeddings", "-np", "1", "-c", "2048", "-t", "1"},
                                   dir_ / "llama-server.log", 60, &error);
  ASSERT_TRUE(server) << error;
  nlohmann::json all = nlohmann::json::array();
  for (const char* t : kTexts) all.push_back(t);
  write_text(dir_ / "in.jsonl", embeddings_line("all", all).dump() + "\n");
  const auto embedded = run_batchwise({"run", (dir_ / "in.jsonl").string(), "-o", (dir_ / "embedded.jsonl").string(),
                                       "-m", model_.string(), "-q"});
  ASSERT_EQ(embedded.exit_code, 0) << embedded.err;
  const auto served = run_batchwise({"run", (dir_ / "in.jsonl").string(), "-o", (dir_ / "served.jsonl").string(),
                                     "--endpoint", server->url(), "-q"});
  ASSERT_EQ(served.exit_code, 0) << served.err;
  const auto ours = read_jsonl(dir_ / "embedded.jsonl")[0]["response"]["body"];
  const auto theirs = read_jsonl(dir_ / "served.jsonl")[0]["response"]["body"];
  ASSERT_EQ(ours["data"].size(), std::size(kTexts));
  ASSERT_EQ(theirs["data"].size(), std::size(kTexts));
  EXPECT_EQ(ours["usage"]["prompt_tokens"], theirs["usage"]["prompt_tokens"]);
  for (size_t i = 0; i < std::size(kTexts); ++i) {
    EXPECT_LT(max_difference(floats_of(ours["data"][i]["embedding"]), floats_of(theirs["data"][i]["embedding"])), 1e-4)
        << kTexts[i];
  }
}
#endif

}  // namespace
}  // namespace batchwise::test
