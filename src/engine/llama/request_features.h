// Request features beyond sampling that the embedded engine honours or refuses: `response_format`
// (json_object / json_schema become a GBNF grammar that constrains every token, through llama.cpp's
// json-schema-to-grammar), and the OpenAI fields it cannot serve (tools, logit_bias, n > 1, ...), which
// fail the line with an error naming the field instead of being silently ignored.
// Pure functions over the request body; no llama.cpp state. Safe from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "engine/engine.h"

namespace batchwise {

// "body field `F` WHAT" (invalid argument): how every refused field of a request body is named.
Error body_field_error(const std::string& field, const std::string& what);

// Whether `body` sets `field` to something: not absent, null, an empty array or an empty object.
bool body_field_set(const nlohmann::json& body, const char* field);

// The GBNF grammar that `response_format` asks for: "" for none or {"type": "text"}; a JSON object
// for json_object; the schema's grammar for json_schema. Errors name the field.
Expected<std::string> response_format_grammar(const nlohmann::json& body);

// An error naming the first field of `body` the embedded engine would otherwise ignore.
Status refuse_unsupported_fields(ApiKind kind, const nlohmann::json& body);

}  // namespace batchwise
