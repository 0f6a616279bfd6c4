// Errors as values: every expected failure (bad input, I/O, engine out-of-memory, HTTP errors) travels
// up as an Error with a code for programs and a message written for the user. Exceptions never cross
// module boundaries; the few libraries that throw are wrapped where they are called.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace batchwise {

enum class ErrorCode {
  kInvalidArgument,   // the user's input is wrong; the message says where and what to do
  kNotFound,          // a named file, model or state does not exist
  kIo,                // reading or writing failed (disk full, permissions)
  kCorrupt,           // a file is malformed or truncated (GGUF, database, JSONL)
  kUnsupported,       // valid but not handled (architecture, url)
  kOutOfMemory,       // the engine could not allocate (KV cache full, device memory)
  kContextExceeded,   // prompt + max_tokens exceed the context
  kEngine,            // the engine failed in another way
  kUnavailable,       // an endpoint or engine is not reachable
  kTimeout,
  kRateLimited,
  kServerError,       // an HTTP 5xx
  kCancelled,         // stopped by the user (Ctrl-C)
  kInternal,          // a bug: should never happen
};

// A short stable name for the code ("invalid_argument"), used in JSON output and error lines.
std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // The same error with context in front: "reading model.gguf: " + message.
  Error with_context(std::string_view context) const;
};

template <class T>
using Expected = std::expected<T, Error>;
using Status = Expected<void>;

inline std::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

}  // namespace batchwise

// Returns the error of an Expected/Status expression from the enclosing function.
#define BW_TRY(expr)                                                  \
  do {                                                                \
    auto&& bw_try_result_ = (expr);                                   \
    if (!bw_try_result_) return std::unexpected(bw_try_result_.error()); \
  } while (0)

// Evaluates an Expected<T> expression; on success moves the value into the declaration or variable
// `lhs` (e.g. `std::string text`), else returns the error from the enclosing function.
#define BW_CONCAT_INNER_(a, b) a##b
#define BW_CONCAT_(a, b) BW_CONCAT_INNER_(a, b)
#define BW_ASSIGN_OR_RETURN(lhs, expr) BW_ASSIGN_OR_RETURN_IMPL_(BW_CONCAT_(bw_expected_, __LINE__), lhs, expr)
#define BW_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)      \
  auto tmp = (expr);                                 \
  if (!tmp) return std::unexpected(tmp.error());     \
  lhs = std::move(*tmp)
