#include "core/status.h"

namespace batchwise {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_request";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kIo: return "io_error";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kOutOfMemory: return "engine_out_of_memory";
    case ErrorCode::kContextExceeded: return "context_length_exceeded";
    case ErrorCode::kEngine: return "engine_error";
    case ErrorCode::kUnavailable: return "engine_unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kServerError: return "server_error";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal_error";
  }
  return "internal_error";
}

Error Error::with_context(std::string_view context) const {
  return Error{code, std::string(context) + ": " + message};
}

}  // namespace batchwise
