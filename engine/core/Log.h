#pragma once
// Logging through spdlog, to stderr, so stdout stays clean for --json output.
#include <spdlog/spdlog.h>

namespace ct {
// Sets up the stderr logger; level "debug", "info", "warn", "error".
void initLogging(const std::string& level = "info");
}
