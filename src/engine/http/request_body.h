// The bytes the HTTP engine POSTs for a request: the batch input's own body text (EngineRequest::
// body_text) unchanged, so the server sees the user's key order, number spelling and escapes; only the
// fields batchwise must set are added. With `stream`, "stream": true and stream_options.include_usage go
// in front of the body's own fields; a body that sets `stream` or `stream_options` itself is parsed
// (key order kept) and those fields replaced instead, since a server may take either of two spellings.
// A request with a parsed `body` only (serve's interactive requests) is serialized once.
// The request's body_text is moved out where it goes unchanged. Thread-safe.
#pragma once

#include <string>

#include "engine/engine.h"

namespace batchwise {

std::string request_body(EngineRequest& request, bool stream);

}  // namespace batchwise
