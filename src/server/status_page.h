// The live page `serve` shows at /: batches with progress, req/s and ETA, models, GPU memory and use,
// recent errors. A static HTML document whose script reads /status.json every two seconds.
#pragma once

#include <string_view>

namespace batchwise {

std::string_view status_page_html();

}  // namespace batchwise
