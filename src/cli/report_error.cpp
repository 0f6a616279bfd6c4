#include <string>

#include "cli/command.h"
#include "core/log.h"

namespace batchwise {

int report_error(const Error& error) {
  log_error(error.message);
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kUnsupported: return kExitUsage;
    case ErrorCode::kCancelled: return kExitInterrupted;
    default: return kExitFatal;
  }
}

}  // namespace batchwise
