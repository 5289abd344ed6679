// Delivers alert state changes (admin/alerts.h) to the configured webhook: each one a JSON POST,
// over http:// or https:// (the certificate and host name verified against the system store, as
// for providers), answered 2xx within `alerts.webhook.timeout` or counted as a failure in
// sluice_alert_webhook_failures_total{reason="delivery"} and logged.
//
// Runs on the stats sampler's event loop (admin/stats_sampler.h), never on a worker. Deliveries
// go one at a time, in order, from a bounded queue: a change that finds kMaxQueued waiting is
// dropped and counted (reason="queue_full"), so a slow or dead receiver costs bounded memory and
// never delays an evaluation, which only queues.
//
// Thread safety: every member on the sampler's thread.
#pragma once

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <deque>
#include <memory>
#include <string>

#include "config/config.h"
#include "core/asio.h"
#include "core/error.h"
#include "http/upstream.h"
#include "metrics/metrics_registry.h"
#include "net/deadline.h"

namespace sluice::admin {

class AlertWebhook {
 public:
  static constexpr std::size_t kMaxQueued = 64;
  static constexpr std::uint64_t kMaxAnswerBytes = 64 * 1024;

  // Throws std::runtime_error (at startup) when the TLS context cannot be made.
  // `recorder` is the sampler thread's; the handles are the failure counter's two series.
  AlertWebhook(asio::io_context& io, const config::Alerts::Webhook& config,
               metrics::WorkerMetrics& recorder, metrics::CounterHandle delivery_failures,
               metrics::CounterHandle dropped);
  ~AlertWebhook();

  // Queues one JSON body; starts delivering when idle.
  void send(std::string body);
  // Abandons what is queued and in flight, so the loop runs out of work (shutdown).
  void close();

 private:
  asio::awaitable<void> drain();
  asio::awaitable<core::Result<void>> deliver(const std::string& body);

  asio::io_context& io_;
  const config::Alerts::Webhook config_;
  std::string target_;
  metrics::WorkerMetrics& recorder_;
  metrics::CounterHandle delivery_failures_, dropped_;
  net::DeadlineSweeper sweeper_;
  http::UpstreamPool pool_;
  std::deque<std::string> queue_;
  bool draining_ = false;
  bool closed_ = false;
  asio::cancellation_signal cancel_;
};

}  // namespace sluice::admin
