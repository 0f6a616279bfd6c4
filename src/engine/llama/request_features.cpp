#include "engine/llama/request_features.h"

#include <array>

#ifdef BATCHWISE_HAVE_JSON_SCHEMA
#include "engine/llama/json_schema/schema_grammar.h"
#endif


namespace batchwise {
namespace {

// llama.cpp's grammars/json.gbnf: any JSON object.
constexpr const char* kJsonObjectGrammar = R"GBNF(root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

# Optional space: by convention, applied in this grammar after literal chars when allowed
ws ::= | " " | "\n" [ \t]{0,20}
)GBNF";

}  // namespace

Error body_field_error(const std::string& field, const std::string& what) {
  return Error{ErrorCode::kInvalidArgument, "body field `" + field + "` " + what};
}

bool body_field_set(const nlohmann::json& body, const char* field) {
  const auto it = body.find(field);
  return it != body.end() && !it->is_null() && !(it->is_array() && it->empty()) && !(it->is_object() && it->empty());
}

Expected<std::string> response_format_grammar(const nlohmann::json& body) {
  if (!body.contains("response_format") || body["response_format"].is_null()) return std::string();
  const auto& rf = body["response_format"];
  if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string()) {
    return std::unexpected(body_field_error("response_format", "must be an object with a string `type`"));
  }
  const std::string type = rf["type"].get<std::string>();
  if (type == "text") return std::string();
  if (type == "json_object") return std::string(kJsonObjectGrammar);
  if (type == "json_schema") {
#ifdef BATCHWISE_HAVE_JSON_SCHEMA
    // OpenAI's shape: {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": ...}}.
    if (!rf.contains("json_schema") || !rf["json_schema"].is_object()) {
      return std::unexpected(body_field_error("response_format.json_schema", "must be an object with the `schema`"));
    }
    const auto& js = rf["json_schema"];
    if (!js.contains("schema") || !js["schema"].is_object()) {
      return std::unexpected(body_field_error("response_format.json_schema.schema", "must be a JSON schema object"));
    }
    auto grammar = json_schema_grammar(js["schema"].dump());
    if (!grammar) return std::unexpected(body_field_error("response_format.json_schema.schema", grammar.error().message));
    return grammar;
#else
    return std::unexpected(Error{ErrorCode::kUnsupported,
                                 "body field `response_format`: json_schema needs llama.cpp's source at build time "
                                 "(this build uses an installed llama package); json_object works, or use --endpoint"});
#endif
  }
  return std::unexpected(body_field_error("response_format.type", "must be text, json_object or json_schema"));
}

Status refuse_unsupported_fields(ApiKind kind, const nlohmann::json& body) {
  // Fields that change what a correct answer is: serving the request without them would be wrong.
  constexpr std::array kRefused = {"tools", "functions", "logit_bias", "audio", "prediction", "suffix"};
  for (const char* field : kRefused) {
    if (body_field_set(body, field)) return std::unexpected(body_field_error(field, "is not supported by the embedded engine (use --endpoint with a server that has it)"));
  }
  for (const char* field : {"tool_choice", "function_call"}) {
    if (body_field_set(body, field) && !(body[field].is_string() && body[field].get<std::string>() == "none")) {
      return std::unexpected(body_field_error(field, "is not supported by the embedded engine (no tools)"));
    }
  }
  if (body.contains("n") && !body["n"].is_null() && !(body["n"].is_number_integer() && body["n"].get<int64_t>() == 1)) {
    return std::unexpected(body_field_error("n", "must be 1 (one choice per request)"));
  }
  if (kind == ApiKind::kCompletions) {
    if (body.contains("best_of") && !body["best_of"].is_null() &&
        !(body["best_of"].is_number_integer() && body["best_of"].get<int64_t>() == 1)) {
      return std::unexpected(body_field_error("best_of", "must be 1 (one choice per request)"));
    }
    if (body.contains("echo") && body["echo"].is_boolean() && body["echo"].get<bool>()) {
      return std::unexpected(body_field_error("echo", "is not supported by the embedded engine"));
    }
  }
  for (const char* field : {"presence_penalty", "frequency_penalty"}) {
    if (body.contains(field) && !body[field].is_null() && !(body[field].is_number() && body[field].get<double>() == 0.0)) {
      return std::unexpected(body_field_error(field, "is not supported by the embedded engine (only 0)"));
    }
  }
  if (body_field_set(body, "modalities")) {
    const auto& m = body["modalities"];
    if (!m.is_array() || m.size() != 1 || m[0] != "text") {
      return std::unexpected(body_field_error("modalities", "must be [\"text\"] (the embedded engine writes text)"));
    }
  }
  return {};
}

}  // namespace batchwise
