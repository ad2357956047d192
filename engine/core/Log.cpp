#include "core/Log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace ct {

void initLogging(const std::string& level) {
    auto logger = spdlog::stderr_color_mt("citytwin");
    logger->set_pattern("%^[%l]%$ %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
}

} // namespace ct
