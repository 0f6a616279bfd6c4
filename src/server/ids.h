// Object ids of the serve API: "file-" or "batch_" and 24 random hex digits from the kernel's random
// source. An id that reaches the server from a client is checked against that exact form before it is
// used for anything, and ids never become paths by themselves: the store maps them to its own files.
#pragma once

#include <string>
#include <string_view>

namespace batchwise {

std::string new_file_id();   // "file-0123456789abcdef01234567"
std::string new_batch_id();  // "batch_0123456789abcdef01234567"

bool is_file_id(std::string_view id);
bool is_batch_id(std::string_view id);

// Compares two secrets in time that depends only on their lengths (API keys).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace batchwise
