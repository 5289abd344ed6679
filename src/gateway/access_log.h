// The access log: one JSON object per line per request, written by spdlog's asynchronous logger
// so the worker only formats the line and hands it over. Off by default. Never contains keys or
// prompts.
//
// Thread safety: log() may be called from any worker.
#pragma once

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace sluice::gateway {

struct RequestContext;

class AccessLog {
 public:
  // `path` is "stdout", "stderr" or a file (appended to). Throws spdlog::spdlog_ex on failure.
  explicit AccessLog(const std::string& path);
  ~AccessLog();

  void log(const RequestContext& ctx);
  void flush();

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace sluice::gateway
