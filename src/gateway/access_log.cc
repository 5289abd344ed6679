#include "gateway/access_log.h"

#include <fmt/chrono.h>
#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "api/endpoint.h"
#include "api/json_text.h"
#include "gateway/request_context.h"
#include "gateway/tenants.h"
#include "http/server_session.h"

namespace sluice::gateway {

using api::append_json_string;

AccessLog::AccessLog(const std::string& path) {
  // One background thread formats nothing and only writes; when the queue is full the oldest
  // lines are dropped rather than blocking a worker.
  static std::once_flag once;
  std::call_once(once, [] { spdlog::init_thread_pool(8192, 1); });
  spdlog::sink_ptr sink;
  if (path == "stdout") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else if (path == "stderr") {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  }
  logger_ = std::make_shared<spdlog::async_logger>("access", sink, spdlog::thread_pool(),
                                                   spdlog::async_overflow_policy::overrun_oldest);
  logger_->set_pattern("%v");
  logger_->set_level(spdlog::level::info);
}

AccessLog::~AccessLog() { flush(); }

void AccessLog::flush() {
  if (logger_) logger_->flush();
}

void AccessLog::log(const RequestContext& ctx) {
  using namespace std::chrono;
  const auto& s = ctx.session;
  const auto now = steady_clock::now();
  auto ms = [](steady_clock::duration d) { return duration<double, std::milli>(d).count(); };

  std::string line;
  line.reserve(384);
  line += "{\"time\":";
  append_json_string(line, fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(std::time(nullptr))));
  line += ",\"request_id\":";
  append_json_string(line, s.request_id());
  line += ",\"client\":";
  append_json_string(line, s.remote().address().to_string());
  line += ",\"method\":";
  append_json_string(line, std::string_view(s.request().method_string()));
  line += ",\"path\":";
  append_json_string(line, s.path());
  fmt::format_to(std::back_inserter(line), ",\"status\":{}", ctx.status);
  if (ctx.endpoint) {
    line += ",\"endpoint\":";
    append_json_string(line, api::endpoint_name(*ctx.endpoint));
  }
  if (ctx.tenant != nullptr) {  // the key's id and name, never the key itself
    line += ",\"key\":";
    append_json_string(line, ctx.tenant->key.id);
    line += ",\"key_name\":";
    append_json_string(line, ctx.tenant->key.name);
  }
  if (!ctx.model.empty()) {
    line += ",\"model\":";
    append_json_string(line, ctx.model);
  }
  if (!ctx.provider.empty()) {
    line += ",\"provider\":";
    append_json_string(line, ctx.provider);
    line += ",\"upstream_model\":";
    append_json_string(line, ctx.upstream_model);
    line += ",\"deployment\":";
    append_json_string(line, ctx.deployment);
    fmt::format_to(std::back_inserter(line), ",\"attempts\":{}", ctx.attempts);
  }
  fmt::format_to(std::back_inserter(line), ",\"stream\":{}", ctx.stream);
  if (!ctx.cache_result.empty()) {
    line += ",\"cache\":";
    append_json_string(line, ctx.cache_result);
  }
  fmt::format_to(std::back_inserter(line), ",\"bytes_in\":{},\"bytes_out\":{}",
                 s.request().body().size(), s.bytes_sent());
  fmt::format_to(std::back_inserter(line), ",\"duration_ms\":{:.3f}", ms(now - s.started()));
  if (ctx.upstream_first_byte != steady_clock::time_point{}) {
    fmt::format_to(std::back_inserter(line), ",\"upstream_first_byte_ms\":{:.3f}",
                   ms(ctx.upstream_first_byte - s.started()));
  }
  if (ctx.usage) {
    fmt::format_to(std::back_inserter(line), ",\"prompt_tokens\":{},\"completion_tokens\":{}",
                   ctx.usage->prompt_tokens, ctx.usage->completion_tokens);
  }
  if (ctx.stream_failed) line += ",\"stream_failed\":true";
  if (!ctx.error.empty()) {
    line += ",\"error\":";
    append_json_string(line, ctx.error);
  }
  line += "}";
  logger_->info(line);
}

}  // namespace sluice::gateway
