// The gateway's families as one worker records them: each answer lands in the series of its own
// labels, however the requests of different models, statuses, endpoints and deployments
// interleave, and after a reload that moves the models around (the worker's remembered handles
// are per route and per key, gateway_metrics.h).
#include "gateway/gateway_metrics.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "config/loader.h"
#include "gateway/request_context.h"
#include "gateway/runtime.h"
#include "gateway/runtime_source.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"
#include "net/deadline.h"
#include "route/model_registry.h"

namespace sluice::gateway {
namespace {

using Clock = std::chrono::steady_clock;
using metrics::LabelValues;

std::shared_ptr<const config::Config> config(bool reversed) {
  const std::string a = R"(  - name: alpha
    deployments:
      - {provider: sim, model: a1, input_cost_per_mtok: 1, output_cost_per_mtok: 2}
      - {provider: sim, model: a2, input_cost_per_mtok: 1, output_cost_per_mtok: 2}
)";
  const std::string b = R"(  - name: beta
    deployments:
      - {provider: sim, model: b1}
)";
  const std::string yaml =
      "providers:\n  - name: sim\n    kind: mock\nmodels:\n" + (reversed ? b + a : a + b);
  return std::make_shared<const config::Config>(config::load_yaml(yaml, "gateway_metrics_test"));
}

class NoHandler final : public http::Handler {
 public:
  asio::awaitable<void> handle(http::ServerSession&) override { co_return; }
  http::ErrorPage render_error(const core::Error&) override { return {}; }
};

class GatewayMetricsTest : public ::testing::Test {
 protected:
  GatewayMetricsTest()
      : runtimes_(Runtime::build(config(false))),
        recorder_(registry_, runtimes_),
        deadlines_(io_.get_executor()),
        session_(asio::ip::tcp::socket(io_), handler_, runtimes_.current()->config().limits,
                 deadlines_),
        worker_(registry_.add_worker()) {}

  const route::ModelRoute& model(const Runtime& rt, std::string_view name) {
    const route::ModelRoute* r = rt.models().find(name);
    EXPECT_NE(r, nullptr) << name;
    return *r;
  }

  // One answered request of `route` through deployment `d`, as the pipeline leaves its context.
  struct Answer {
    const route::ModelRoute* route = nullptr;
    std::size_t deployment = 0;
    api::Endpoint endpoint = api::Endpoint::kChatCompletions;
    int status = 200;
    std::string_view cache = "miss";
    bool stream = false;
    std::uint64_t completion_tokens = 0;
    double cost = 0;
  };
  void answer(const std::shared_ptr<const Runtime>& rt, const Answer& a) {
    auto routes = std::make_shared<WorkerRoutes>(rt, 1);
    RequestContext ctx(session_, routes, state_);
    ctx.endpoint = a.endpoint;
    ctx.route = a.route;
    ctx.status = a.status;
    ctx.cache_result = a.cache;
    ctx.stream = a.stream;
    const auto now = Clock::now();
    if (a.route != nullptr && a.status != 429) {
      const route::Deployment& d = a.route->deployments[a.deployment];
      ctx.deployment = d.id;
      ctx.deployment_name_id = d.name_id;
      ctx.deployment_config = d.config;
      ctx.upstream_status = a.status;
      ctx.upstream_started = now - std::chrono::milliseconds(3);
      ctx.upstream_finished = now - std::chrono::milliseconds(1);
      if (a.stream) ctx.upstream_first_byte = now - std::chrono::milliseconds(2);
      ctx.attempts = 1;
    }
    if (a.completion_tokens > 0) ctx.usage = api::Usage{10, a.completion_tokens, 0};
    ctx.cost_usd = a.cost;
    recorder_.begin(worker_);
    recorder_.record(worker_, ctx);
    recorder_.end(worker_);
  }

  // A counter's value, or a histogram's count, for these label values; 0 when there is none.
  std::uint64_t value(std::string_view family, const LabelValues& labels) {
    auto totals = registry_.totals(family);
    EXPECT_TRUE(totals) << family;
    if (!totals) return 0;
    for (const auto& s : totals->series) {
      if (*s.labels != labels) continue;
      if (totals->type != metrics::MetricType::kHistogram) return s.values[0];
      std::uint64_t count = 0;
      for (std::size_t i = 0; i + 1 < s.values.size(); ++i) count += s.values[i];
      return count;
    }
    return 0;
  }

  metrics::MetricsRegistry registry_;
  RuntimeSource runtimes_;
  GatewayMetrics recorder_;
  asio::io_context io_;
  net::DeadlineSweeper deadlines_;
  NoHandler handler_;
  http::ServerSession session_;
  WorkerState state_;
  GatewayWorkerMetrics worker_;
};

TEST_F(GatewayMetricsTest, InterleavedAnswersEachLandInTheirOwnSeries) {
  auto rt = runtimes_.current();
  const route::ModelRoute* alpha = &model(*rt, "alpha");
  const route::ModelRoute* beta = &model(*rt, "beta");
  for (int i = 0; i < 3; ++i) {
    answer(rt, {.route = alpha, .completion_tokens = 5, .cost = 0.001});
    answer(rt, {.route = beta, .completion_tokens = 7});
    answer(rt, {.route = alpha, .deployment = 1, .stream = true});
    answer(rt, {.route = alpha, .status = 429, .cache = ""});
    answer(rt, {.route = alpha, .endpoint = api::Endpoint::kEmbeddings});
    answer(rt, {.route = nullptr, .status = 404, .cache = ""});  // an unknown model
  }

  EXPECT_EQ(value("sluice_requests_total", {"chat", "alpha", "200", "miss"}), 6u);
  EXPECT_EQ(value("sluice_requests_total", {"chat", "alpha", "429", ""}), 3u);
  EXPECT_EQ(value("sluice_requests_total", {"chat", "beta", "200", "miss"}), 3u);
  EXPECT_EQ(value("sluice_requests_total", {"embeddings", "alpha", "200", "miss"}), 3u);
  EXPECT_EQ(value("sluice_requests_total", {"chat", "", "404", ""}), 3u);
  EXPECT_EQ(value("sluice_request_duration_seconds", {"chat", "alpha"}), 9u);
  EXPECT_EQ(value("sluice_request_duration_seconds", {"embeddings", "alpha"}), 3u);
  EXPECT_EQ(value("sluice_request_duration_seconds", {"chat", "beta"}), 3u);
  EXPECT_EQ(value("sluice_gateway_overhead_seconds", {"chat"}), 15u);
  EXPECT_EQ(value("sluice_gateway_overhead_seconds", {"embeddings"}), 3u);
  EXPECT_EQ(value("sluice_upstream_duration_seconds", {alpha->deployments[0].id}), 6u);
  EXPECT_EQ(value("sluice_upstream_duration_seconds", {alpha->deployments[1].id}), 3u);
  EXPECT_EQ(value("sluice_upstream_duration_seconds", {beta->deployments[0].id}), 3u);
  EXPECT_EQ(value("sluice_time_to_first_token_seconds", {"alpha"}), 3u);
  EXPECT_EQ(value("sluice_time_to_first_token_seconds", {"beta"}), 0u);
  EXPECT_EQ(value("sluice_tokens_total", {"alpha", "prompt"}), 30u);
  EXPECT_EQ(value("sluice_tokens_total", {"alpha", "completion"}), 15u);
  EXPECT_EQ(value("sluice_tokens_total", {"beta", "prompt"}), 30u);
  EXPECT_EQ(value("sluice_tokens_total", {"beta", "completion"}), 21u);
  EXPECT_EQ(value("sluice_cost_usd_total", {"alpha"}), 3'000'000u);  // nano-dollars
  EXPECT_EQ(value("sluice_cost_usd_total", {"beta"}), 0u);
  EXPECT_EQ(value("sluice_rate_limited_requests_total", {"alpha"}), 3u);
  EXPECT_EQ(value("sluice_requests_in_flight", {}), 0u);
}

TEST_F(GatewayMetricsTest, AReloadThatReordersTheModelsKeepsEachInItsSeries) {
  auto first = runtimes_.current();
  answer(first, {.route = &model(*first, "alpha"), .completion_tokens = 5});
  answer(first, {.route = &model(*first, "beta"), .completion_tokens = 7});
  // beta now sits where alpha was (ModelRoute::index 0), and alpha where beta was.
  auto second = Runtime::build(config(true));
  ASSERT_EQ(model(*second, "beta").index, model(*first, "alpha").index);
  answer(second, {.route = &model(*second, "alpha"), .completion_tokens = 5});
  answer(second, {.route = &model(*second, "beta"), .completion_tokens = 7});
  answer(second, {.route = &model(*second, "beta"), .completion_tokens = 7});

  EXPECT_EQ(value("sluice_requests_total", {"chat", "alpha", "200", "miss"}), 2u);
  EXPECT_EQ(value("sluice_requests_total", {"chat", "beta", "200", "miss"}), 3u);
  EXPECT_EQ(value("sluice_request_duration_seconds", {"chat", "alpha"}), 2u);
  EXPECT_EQ(value("sluice_request_duration_seconds", {"chat", "beta"}), 3u);
  EXPECT_EQ(value("sluice_tokens_total", {"alpha", "completion"}), 10u);
  EXPECT_EQ(value("sluice_tokens_total", {"beta", "completion"}), 21u);
}

}  // namespace
}  // namespace sluice::gateway
