#include "admin/alert_webhook.h"

#include <spdlog/spdlog.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <array>

namespace sluice::admin {

namespace {

// The origin the pool connects to, as a provider's would be made (TLS verified).
std::shared_ptr<const http::UpstreamOrigin> origin_of(const config::Alerts::Webhook& config) {
  config::Provider p;
  p.name = "alerts.webhook";
  p.base_url = config.url;
  p.tls_verify = true;
  p.max_idle_connections = 1;
  return http::UpstreamOrigin::from_config(p);
}

}  // namespace

AlertWebhook::AlertWebhook(asio::io_context& io, const config::Alerts::Webhook& config,
                           metrics::WorkerMetrics& recorder,
                           metrics::CounterHandle delivery_failures, metrics::CounterHandle dropped)
    : io_(io),
      config_(config),
      target_(config.url.base_path.empty() ? "/" : config.url.base_path),
      recorder_(recorder),
      delivery_failures_(delivery_failures),
      dropped_(dropped),
      sweeper_(io.get_executor()),
      pool_(io.get_executor(), sweeper_, origin_of(config)) {}

AlertWebhook::~AlertWebhook() = default;

void AlertWebhook::send(std::string body) {
  if (closed_) return;
  if (queue_.size() >= kMaxQueued) {
    recorder_.add(dropped_);
    spdlog::warn("alerts: the webhook queue is full ({} waiting); a state change was dropped",
                 queue_.size());
    return;
  }
  queue_.push_back(std::move(body));
  if (draining_) return;
  draining_ = true;
  asio::co_spawn(io_, drain(), asio::bind_cancellation_slot(cancel_.slot(), asio::detached));
}

void AlertWebhook::close() {
  closed_ = true;
  queue_.clear();
  cancel_.emit(asio::cancellation_type::terminal);
  pool_.close_all();
  sweeper_.stop();
}

asio::awaitable<void> AlertWebhook::drain() {
  while (!queue_.empty() && !closed_) {
    const std::string body = std::move(queue_.front());
    queue_.pop_front();
    core::Result<void> delivered = co_await deliver(body);
    if (closed_) break;
    if (!delivered) {
      recorder_.add(delivery_failures_);
      spdlog::warn("alerts: webhook {} failed: {}", config_.url.text, delivered.error().message);
    }
  }
  draining_ = false;
}

asio::awaitable<core::Result<void>> AlertWebhook::deliver(const std::string& body) {
  http::UpstreamTimeouts timeouts;
  timeouts.connect = timeouts.first_byte = timeouts.idle = timeouts.total = config_.timeout;
  http::UpstreamCall call(pool_, timeouts);
  const std::array<asio::const_buffer, 1> buffers = {asio::const_buffer(body.data(), body.size())};
  http::UpstreamRequest request;
  request.method = "POST";
  request.target = target_;
  request.body = buffers;
  if (auto started = co_await call.start(request); !started) co_return started.error();
  auto answer = co_await call.read_body(kMaxAnswerBytes);
  if (!answer) co_return answer.error();
  const int status = call.status();
  call.finish();
  if (status < 200 || status >= 300) {
    co_return core::fail(core::Errc::kUpstreamError, "answered " + std::to_string(status));
  }
  co_return core::Result<void>{};
}

}  // namespace sluice::admin
