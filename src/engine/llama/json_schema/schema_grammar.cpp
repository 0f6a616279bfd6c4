#include "engine/llama/json_schema/schema_grammar.h"

#include <exception>

#include "json-schema-to-grammar.h"

namespace batchwise {

Expected<std::string> json_schema_grammar(const std::string& schema_json) {
  try {
    return json_schema_to_grammar(common_json::parse(schema_json));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, std::string("cannot be turned into a grammar: ") + e.what());
  }
}

}  // namespace batchwise
