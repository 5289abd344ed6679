#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice::core {

bool setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("sluice");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  spdlog::set_default_logger(logger);
  auto parsed = spdlog::level::from_str(level);
  bool known = parsed != spdlog::level::off || level == "off";
  spdlog::set_level(known ? parsed : spdlog::level::info);
  // Warnings and errors reach the terminal or journal at once.
  spdlog::flush_on(spdlog::level::info);
  return known;
}

}  // namespace sluice::core
