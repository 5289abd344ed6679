// `sluice serve [-c FILE]`: runs the gateway until SIGINT or SIGTERM, then drains and exits 0.
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <thread>

#include "admin/admin_api.h"
#include "admin/alert_webhook.h"
#include "admin/alerts.h"
#include "admin/cpu_profile.h"
#include "admin/stats_history.h"
#include "admin/stats_sampler.h"
#include "cache/coalescer.h"
#include "cache/disk_tier.h"
#include "cache/redis_tier.h"
#include "cache/tiered_cache.h"
#include "cli/commands.h"
#include "config/loader.h"
#include "core/log.h"
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

struct ServeOptions {
  std::string config_file;
  std::string listen;
  int workers = -1;
};

int serve(const ServeOptions& opts) {
  std::optional<config::Listen> listen;
  if (!opts.listen.empty()) {
    auto parsed = config::parse_listen(opts.listen);
    if (!parsed) {
      std::cerr << "sluice: --listen: " << parsed.error().message << "\n";
      return 1;
    }
    listen = *parsed;
  }
  // What the command line and the environment change in the file, at startup and on reloads.
  auto overrides = [listen, workers = opts.workers](config::Config& c) {
    if (listen) c.listen = *listen;
    if (workers >= 0) c.workers = workers;
    if (c.auth.admin_key.empty()) {
      if (const char* key = std::getenv("SLUICE_ADMIN_KEY")) c.auth.admin_key = key;
    }
  };
  config::Config cfg;
  try {
    cfg = opts.config_file.empty() ? config::default_config() : config::load_file(opts.config_file);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  overrides(cfg);
  core::setup_logging(cfg.log_level);

  auto shared_cfg = std::make_shared<const config::Config>(std::move(cfg));
  const core::Clock& clock = core::SteadyClock::instance();
  // Before the runtime and the tenants: both hold buckets of its local limiter.
  limit::SharedLimits limits(clock);
  gateway::RuntimeSource runtimes(gateway::Runtime::build(shared_cfg, &limits.local()));
  gateway::Reloader reloader(runtimes, &limits.local(), overrides);
  std::unique_ptr<gateway::AccessLog> access_log;
  if (shared_cfg->access_log.enabled) {
    access_log = std::make_unique<gateway::AccessLog>(shared_cfg->access_log.path);
  }
  // Built even when the cache is off, so that PATCH /admin/config can turn it on; its tiers are
  // fixed at startup.
  std::unique_ptr<cache::TieredCache> cache;
  {
    std::vector<std::unique_ptr<cache::LowerTier>> lower;  // below memory, fastest first
    if (!shared_cfg->cache.disk.path.empty()) {
      lower.push_back(cache::make_disk_tier(shared_cfg->cache, clock));  // throws if it cannot open
    }
    if (!shared_cfg->cache.redis.url.empty()) {
      lower.push_back(cache::make_redis_tier(shared_cfg->cache, clock));  // after the disk tier
    }
    cache = std::make_unique<cache::TieredCache>(shared_cfg->cache, clock, std::move(lower));
  }

  net::raise_open_file_limit();
  http::Server::Options options;
  options.name = "sluice";
  options.host = shared_cfg->listen.host;
  options.port = shared_cfg->listen.port;
  options.workers = shared_cfg->workers > 0
                        ? shared_cfg->workers
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.limits = shared_cfg->limits;
  options.drain_timeout = shared_cfg->drain_timeout;
  std::unique_ptr<cache::Coalescer> coalescer;
  if (shared_cfg->coalesce.enabled) {
    coalescer = std::make_unique<cache::Coalescer>(shared_cfg->limits.max_response_bytes);
  }
  // Keys, budgets and the usage ledger (docs/keys-and-limits.md).
  std::unique_ptr<gateway::TenantDirectory> tenants;
  if (shared_cfg->auth.mode == config::Auth::Mode::kKeys) {
    tenants = std::make_unique<gateway::TenantDirectory>(&limits.local());
  }
  limit::BudgetBook budgets;
  std::unique_ptr<store::ControlPlane> control_plane;
  if (!shared_cfg->data_dir.empty()) {
    store::ControlPlane::Options cp;
    cp.path = store::database_path(shared_cfg->data_dir);
    gateway::TenantDirectory* directory = tenants.get();
    auto opened = store::ControlPlane::open(cp, [directory](std::vector<store::KeyRecord> keys) {
      if (directory != nullptr) directory->replace(std::move(keys));
    });
    if (!opened) {
      std::cerr << "sluice: " << cp.path << ": " << opened.error().message << "\n";
      return 1;
    }
    control_plane = std::move(*opened);
    // Budgets start from what the ledger says was spent, so a restart grants nothing. Startup
    // may block: a second connection reads it before any worker runs.
    if (auto db = store::Database::open(cp.path)) {
      std::int64_t now_ms = clock.unix_ms();
      for (const auto& [key, spend] : store::UsageStore(**db).spend_by_key(now_ms)) {
        budgets.seed(key, limit::Spend{spend.day, spend.month, spend.total}, now_ms);
      }
    }
  }
  bool token_limits = shared_cfg->rate_limits.global.tpm != 0;
  for (const config::Model& m : shared_cfg->models) token_limits |= m.limits.tpm != 0;

  // Metrics (docs/observability.md): one registry, the gateway's families and collectors. Off
  // (metrics.enabled: false), there is no GatewayMetrics: nothing is recorded, /metrics is 404.
  metrics::MetricsRegistry metrics_registry;
  std::unique_ptr<gateway::GatewayMetrics> gateway_metrics;
  if (shared_cfg->metrics.enabled) {
    gateway_metrics = std::make_unique<gateway::GatewayMetrics>(metrics_registry, runtimes);
    if (cache) gateway_metrics->add_cache_collector(*cache);
  }

  admin::CpuProfiler profiler;
  admin::AdminApi admin(cache.get(), coalescer.get(), control_plane.get(), &reloader, &profiler);
  // The performance API and the alerts (docs/observability.md): read and evaluated once a second
  // on the sampler's thread, which also delivers the webhook's notifications. They read the
  // metrics, so with metrics off there are none and /admin/stats and /admin/alerts say so (404).
  std::unique_ptr<admin::StatsHistory> stats_history;
  std::unique_ptr<admin::StatsSampler> stats_sampler;
  std::unique_ptr<admin::Alerts> alerts;
  std::unique_ptr<admin::AlertWebhook> webhook;
  if (gateway_metrics) {
    stats_history = std::make_unique<admin::StatsHistory>(metrics_registry, clock);
    stats_sampler = std::make_unique<admin::StatsSampler>(*stats_history);
    metrics::WorkerMetrics& sampler_metrics = metrics_registry.add_worker();
    alerts = std::make_unique<admin::Alerts>(
        shared_cfg->alerts.rules, *stats_history, [&runtimes] { return runtimes.current(); },
        metrics_registry, sampler_metrics);
    if (!shared_cfg->alerts.webhook.url.host.empty()) {
      webhook = std::make_unique<admin::AlertWebhook>(
          stats_sampler->context(), shared_cfg->alerts.webhook, sampler_metrics,
          alerts->webhook_failures(), alerts->webhook_dropped());
      alerts->set_webhook(webhook.get());
      stats_sampler->on_stop([&webhook] { webhook->close(); });
    }
    stats_sampler->after_tick([&alerts] { alerts->evaluate(); });
    admin.set_stats(stats_history.get(), alerts.get());
  }
  gateway::Services services{access_log.get(), cache.get(), coalescer.get(), &admin};
  services.clock = &clock;
  services.limits = &limits;
  services.budgets = &budgets;
  services.tenants = tenants.get();
  services.control_plane = control_plane.get();
  services.metrics = gateway_metrics.get();
  services.accounting = control_plane != nullptr || token_limits;
  http::Server server(options, [&](net::Worker& worker) {
    return std::make_unique<gateway::Gateway>(worker, runtimes, services);
  });
  if (gateway_metrics) {
    metrics_registry.add_collector([&server](metrics::SampleWriter& out) {
      out.family("sluice_open_connections", "Client connections open now.",
                 metrics::MetricType::kGauge);
      out.sample(server.active_connections());
    });
  }
  server.start();
  if (stats_sampler) stats_sampler->start();
  spdlog::info("sluice {} listening on http://{}:{} ({} workers, config {}, {} models)",
               SLUICE_VERSION, options.host, server.port(), options.workers, shared_cfg->source,
               shared_cfg->models.size());
  // SIGHUP reads the file again (a problem in it is logged and changes nothing).
  server.run_until_signal([&reloader] {
    if (auto reloaded = reloader.reload_file(); !reloaded) {
      spdlog::error("{}", reloaded.error().message);
    }
  });
  if (stats_sampler) stats_sampler->stop();
  control_plane.reset();  // writes the ledger rows still queued
  access_log.reset();
  spdlog::info("sluice stopped");
  // Writes what the asynchronous loggers still hold (the access log's last lines) before exit.
  spdlog::shutdown();
  return 0;
}

}  // namespace

void add_serve(CLI::App& app, std::function<int()>& run) {
  auto opts = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the gateway");
  cmd->add_option("-c,--config", opts->config_file,
                  "Configuration file (YAML); without it, a built-in offline default");
  cmd->add_option("--listen", opts->listen, "Override `listen` (HOST:PORT)");
  cmd->add_option("--workers", opts->workers, "Override `workers` (0 = one per core)");
  cmd->callback([opts, &run] { run = [opts] { return serve(*opts); }; });
}

}  // namespace sluice::cli
