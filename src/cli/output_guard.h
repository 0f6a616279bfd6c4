// Output guard: a verb that writes a file named by the user does not replace one that is not its own
// without being told (--force), and says so when the file's folder does not exist. Checked before any
// work starts, so a refusal costs nothing.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"

namespace batchwise {

// kInvalidArgument naming `path` and `--force` when `path` exists and `force` is false; `flag` is the
// option that named it ("-o").
Status refuse_overwrite(const std::filesystem::path& path, const std::string& flag, bool force);

// kInvalidArgument naming the folder `path` would be written in, and the `mkdir -p` that makes it, when
// that folder does not exist (or is not a folder); `flag` is the option that named the file ("-o").
Status require_output_folder(const std::filesystem::path& path, const std::string& flag);

}  // namespace batchwise
