#include "cli/gateway_instance.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <thread>

#include "admin/admin_api.h"
#include "admin/alert_webhook.h"
#include "admin/alerts.h"
#include "admin/cpu_profile.h"
#include "admin/stats_history.h"
#include "admin/stats_sampler.h"
#include "batch/batch_api.h"
#include "batch/batch_executor.h"
#include "cache/coalescer.h"
#include "cache/disk_tier.h"
#include "cache/redis_tier.h"
#include "cache/tiered_cache.h"
#include "gateway/access_log.h"
#include "gateway/gateway.h"
#include "gateway/gateway_metrics.h"
#include "gateway/reloader.h"
#include "gateway/runtime.h"
#include "gateway/runtime_source.h"
#include "gateway/tenants.h"
#include "http/server.h"
#include "limit/budget.h"
#include "limit/limiter.h"
#include "metrics/metrics_registry.h"
#include "net/listener.h"
#include "store/control_plane.h"
#include "store/database.h"
#include "store/usage.h"

namespace sluice::cli {

namespace {

// Where this process can reach itself: its listen address, with a wildcard replaced by loopback.
std::string self_url(const std::string& host, std::uint16_t port) {
  std::string h = host;
  if (h.empty() || h == "0.0.0.0") h = "127.0.0.1";
  if (h == "::") h = "::1";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return "http://" + h + ":" + std::to_string(port);
}

}  // namespace

// In construction order: each part may refer to the ones above it, and they are destroyed in
// the reverse order.
struct GatewayInstance::Parts {
  std::shared_ptr<const config::Config> config;
  const core::Clock& clock = core::SteadyClock::instance();
  // Before the runtime and the tenants: both hold buckets of its local limiter.
  limit::SharedLimits limits{clock};
  std::optional<gateway::RuntimeSource> runtimes;
  std::optional<gateway::Reloader> reloader;
  std::unique_ptr<gateway::AccessLog> access_log;
  std::unique_ptr<cache::TieredCache> cache;
  std::unique_ptr<cache::Coalescer> coalescer;
  std::unique_ptr<gateway::TenantDirectory> tenants;
  limit::BudgetBook budgets;
  std::unique_ptr<store::ControlPlane> control_plane;
  metrics::MetricsRegistry metrics_registry;
  std::unique_ptr<gateway::GatewayMetrics> gateway_metrics;
  admin::CpuProfiler profiler;
  std::optional<admin::AdminApi> admin;
  std::unique_ptr<admin::StatsHistory> stats_history;
  std::unique_ptr<admin::StatsSampler> stats_sampler;
  std::unique_ptr<admin::Alerts> alerts;
  std::unique_ptr<admin::AlertWebhook> webhook;
  // The Batch API and its jobs (sluice serve with a data_dir): the workers call the API, and the
  // API wakes the executor, so both outlive the server.
  std::unique_ptr<batch::BatchExecutor> batch_executor;
  std::unique_ptr<batch::BatchApi> batch_api;
  std::unique_ptr<http::Server> server;
  bool stopped = false;
};

GatewayInstance::GatewayInstance(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

GatewayInstance::~GatewayInstance() { stop(); }

std::uint16_t GatewayInstance::port() const { return parts_->server->port(); }

const config::Config& GatewayInstance::config() const { return *parts_->config; }

core::Result<std::unique_ptr<GatewayInstance>> GatewayInstance::start(config::Config cfg,
                                                                      Overrides overrides,
                                                                      bool batch_jobs) {
  if (overrides) overrides(cfg);
  auto p = std::make_unique<Parts>();
  Parts& s = *p;
  s.config = std::make_shared<const config::Config>(std::move(cfg));
  const config::Config& c = *s.config;
  s.runtimes.emplace(gateway::Runtime::build(s.config, &s.limits.local()));
  s.reloader.emplace(*s.runtimes, &s.limits.local(), overrides);
  if (c.access_log.enabled) s.access_log = std::make_unique<gateway::AccessLog>(c.access_log.path);
  // Built even when the cache is off, so that PATCH /admin/config can turn it on; its tiers are
  // fixed at startup.
  {
    std::vector<std::unique_ptr<cache::LowerTier>> lower;  // below memory, fastest first
    if (!c.cache.disk.path.empty()) {
      lower.push_back(cache::make_disk_tier(c.cache, s.clock));  // throws if it cannot open
    }
    if (!c.cache.redis.url.empty()) {
      lower.push_back(cache::make_redis_tier(c.cache, s.clock));  // after the disk tier
    }
    s.cache = std::make_unique<cache::TieredCache>(c.cache, s.clock, std::move(lower));
  }

  net::raise_open_file_limit();
  http::Server::Options options;
  options.name = "sluice";
  options.host = c.listen.host;
  options.port = c.listen.port;
  options.workers = c.workers > 0
                        ? c.workers
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.limits = c.limits;
  options.drain_timeout = c.drain_timeout;
  if (c.coalesce.enabled) {
    s.coalescer = std::make_unique<cache::Coalescer>(c.limits.max_response_bytes);
  }
  // Keys, budgets and the usage ledger (docs/keys-and-limits.md).
  if (c.auth.mode == config::Auth::Mode::kKeys) {
    s.tenants = std::make_unique<gateway::TenantDirectory>(&s.limits.local());
  }
  if (!c.data_dir.empty()) {
    store::ControlPlane::Options cp;
    cp.path = store::database_path(c.data_dir);
    gateway::TenantDirectory* directory = s.tenants.get();
    auto opened = store::ControlPlane::open(cp, [directory](std::vector<store::KeyRecord> keys) {
      if (directory != nullptr) directory->replace(std::move(keys));
    });
    if (!opened) {
      return core::fail(core::Errc::kInternal, cp.path + ": " + opened.error().message);
    }
    s.control_plane = std::move(*opened);
    // Budgets start from what the ledger says was spent, so a restart grants nothing. Startup
    // may block: a second connection reads it before any worker runs.
    if (auto db = store::Database::open(cp.path)) {
      std::int64_t now_ms = s.clock.unix_ms();
      for (const auto& [key, spend] : store::UsageStore(**db).spend_by_key(now_ms)) {
        s.budgets.seed(key, limit::Spend{spend.day, spend.month, spend.total}, now_ms);
      }
    }
  }
  bool token_limits = c.rate_limits.global.tpm != 0;
  for (const config::Model& m : c.models) token_limits |= m.limits.tpm != 0;

  // Metrics (docs/observability.md): one registry, the gateway's families and collectors. Off
  // (metrics.enabled: false), there is no GatewayMetrics: nothing is recorded, /metrics is 404.
  if (c.metrics.enabled) {
    s.gateway_metrics = std::make_unique<gateway::GatewayMetrics>(s.metrics_registry, *s.runtimes);
    s.gateway_metrics->add_cache_collector(*s.cache);
  }

  s.admin.emplace(s.cache.get(), s.coalescer.get(), s.control_plane.get(), &*s.reloader,
                  &s.profiler);
  // The performance API and the alerts (docs/observability.md): read and evaluated once a second
  // on the sampler's thread, which also delivers the webhook's notifications. They read the
  // metrics, so with metrics off there are none and /admin/stats and /admin/alerts say so (404).
  if (s.gateway_metrics) {
    s.stats_history = std::make_unique<admin::StatsHistory>(s.metrics_registry, s.clock);
    s.stats_sampler = std::make_unique<admin::StatsSampler>(*s.stats_history);
    metrics::WorkerMetrics& sampler_metrics = s.metrics_registry.add_worker();
    gateway::RuntimeSource& runtimes = *s.runtimes;
    s.alerts = std::make_unique<admin::Alerts>(
        c.alerts.rules, *s.stats_history, [&runtimes] { return runtimes.current(); },
        s.metrics_registry, sampler_metrics);
    if (!c.alerts.webhook.url.host.empty()) {
      s.webhook = std::make_unique<admin::AlertWebhook>(
          s.stats_sampler->context(), c.alerts.webhook, sampler_metrics,
          s.alerts->webhook_failures(), s.alerts->webhook_dropped());
      s.alerts->set_webhook(s.webhook.get());
      s.stats_sampler->on_stop([&s] { s.webhook->close(); });
    }
    s.stats_sampler->after_tick([&s] { s.alerts->evaluate(); });
    s.admin->set_stats(s.stats_history.get(), s.alerts.get());
  }
  // The Batch API (docs/batch.md): its files and jobs live in the data_dir; the jobs run in the
  // background through this server's own address, from once it listens.
  if (batch_jobs && s.control_plane) {
    batch::BatchExecutor::Options bo;
    bo.data_dir = c.data_dir;
    bo.concurrency = c.batch.concurrency;
    std::string secret;
    try {
      secret = batch::BatchExecutor::make_secret();
    } catch (const std::exception& e) {
      return core::fail(core::Errc::kInternal, e.what());
    }
    s.batch_executor = std::make_unique<batch::BatchExecutor>(bo, std::move(secret), s.clock);
    s.batch_api = std::make_unique<batch::BatchApi>(
        batch::BatchApi::Options{c.data_dir, c.batch.max_file_bytes}, *s.control_plane,
        *s.batch_executor);
  }
  gateway::Services services{s.access_log.get(), s.cache.get(), s.coalescer.get(), &*s.admin};
  services.batch = s.batch_api.get();
  if (s.batch_executor) services.batch_secret = s.batch_executor->secret();
  services.clock = &s.clock;
  services.limits = &s.limits;
  services.budgets = &s.budgets;
  services.tenants = s.tenants.get();
  services.control_plane = s.control_plane.get();
  services.metrics = s.gateway_metrics.get();
  services.accounting = s.control_plane != nullptr || token_limits;
  s.server = std::make_unique<http::Server>(options, [&s, services](net::Worker& worker) {
    return std::make_unique<gateway::Gateway>(worker, *s.runtimes, services);
  });
  if (s.gateway_metrics) {
    http::Server& server = *s.server;
    s.metrics_registry.add_collector([&server](metrics::SampleWriter& out) {
      out.family("sluice_open_connections", "Client connections open now.",
                 metrics::MetricType::kGauge);
      out.sample(server.active_connections());
    });
  }
  s.server->start();
  if (s.stats_sampler) s.stats_sampler->start();
  auto instance = std::unique_ptr<GatewayInstance>(new GatewayInstance(std::move(p)));
  if (s.batch_executor) {
    if (auto started = s.batch_executor->start(self_url(options.host, s.server->port()));
        !started) {
      return core::fail(core::Errc::kInternal, "batch jobs: " + started.error().message);
    }
  }
  return instance;
}

void GatewayInstance::run_until_signal() {
  Parts& s = *parts_;
  // SIGHUP reads the file again (a problem in it is logged and changes nothing).
  s.server->run_until_signal(
      [&s] {
        if (auto reloaded = s.reloader->reload_file(); !reloaded) {
          spdlog::error("{}", reloaded.error().message);
        }
      },
      [&s] { stop_batch_jobs(s); });
  stop();
}

void GatewayInstance::stop_batch_jobs(Parts& s) {
  // Before the drain, while the server still answers: the jobs' lines in flight (and their
  // retries) finish and are written, and none is sent to a server that no longer accepts. The
  // wait is bounded like the drain; a job stopped this way resumes at the next start.
  if (s.batch_executor && !s.batch_executor->stop_within(s.config->drain_timeout)) {
    spdlog::warn("batch jobs: lines still in flight after {} ms; draining anyway",
                 s.config->drain_timeout.count());
  }
}

void GatewayInstance::stop() {
  Parts& s = *parts_;
  if (s.stopped) return;
  s.stopped = true;
  stop_batch_jobs(s);
  s.server->shutdown();
  if (s.batch_executor) s.batch_executor->stop();
  s.batch_api.reset();  // no worker calls it any more
  s.batch_executor.reset();
  if (s.stats_sampler) s.stats_sampler->stop();
  s.control_plane.reset();  // writes the ledger rows still queued
  s.access_log.reset();
}

}  // namespace sluice::cli
