// The GBNF grammar for a JSON schema (OpenAI's response_format json_schema), through llama.cpp's own
// json-schema-to-grammar converter, so a grammar-constrained answer follows the schema the way
// llama-server's would. This folder is built as its own library (batchwise_json_schema) together
// with the few llama.cpp `common/` files the converter needs: llama.cpp's llama-common library
// cannot be linked whole, its bundled cpp-httplib clashes with Debian's in one binary.
// Pure function; safe from any thread.
#pragma once

#include <string>

#include "core/status.h"

namespace batchwise {

// `schema_json`: the schema as JSON text. An error (kInvalidArgument) says what the converter refused.
Expected<std::string> json_schema_grammar(const std::string& schema_json);

}  // namespace batchwise
