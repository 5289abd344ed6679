#include "batch/gateway_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <charconv>
#include <future>

#include "config/loader.h"
#include "http/upstream.h"
#include "net/worker.h"

namespace sluice::batch {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Retry-After as seconds ("2", "0.5"); an HTTP date or garbage is treated as absent.
double parse_retry_after(std::string_view text) {
  double seconds = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  return ec == std::errc() && end == text.data() + text.size() && seconds >= 0 ? seconds : -1;
}

}  // namespace

struct GatewayClient::State {
  Options options;
  std::string base_path;  // the URL's path, without a trailing "/v1" (targets start with it)
  std::string authorization;
  net::Worker worker{0};
  std::optional<http::UpstreamPool> pool;
};

GatewayClient::GatewayClient(std::unique_ptr<State> state) : state_(std::move(state)) {}

core::Result<std::unique_ptr<GatewayClient>> GatewayClient::open(Options options) {
  auto url = config::parse_url(options.url);
  if (!url) return core::fail(core::Errc::kInvalidRequest, "--url: " + url.error().message);
  config::Provider provider;
  provider.name = "gateway";
  provider.base_url = *url;
  auto state = std::make_unique<State>();
  state->base_path = url->base_path;
  if (state->base_path.ends_with("/v1")) state->base_path.resize(state->base_path.size() - 3);
  if (!options.api_key.empty()) state->authorization = "Bearer " + options.api_key;
  state->options = std::move(options);
  auto origin = http::UpstreamOrigin::from_config(provider);
  state->pool.emplace(state->worker.executor(), state->worker.deadlines(), std::move(origin));
  state->worker.start();
  return std::unique_ptr<GatewayClient>(new GatewayClient(std::move(state)));
}

GatewayClient::~GatewayClient() {
  std::promise<void> closed;
  asio::post(state_->worker.executor(), [this, &closed] {
    state_->pool->close_all();
    state_->worker.deadlines().stop();
    closed.set_value();
  });
  closed.get_future().wait();
  state_->worker.release();
  state_->worker.join();
}

asio::any_io_executor GatewayClient::executor() { return state_->worker.executor(); }

namespace {

// Sends one request and hands the body to `on_data` piece by piece, or keeps it whole when
// on_data is empty.
asio::awaitable<Reply> run_exchange(http::UpstreamPool& pool, const GatewayClient::Options& opts,
                                    const std::string& base_path, const std::string& authorization,
                                    std::string_view method, std::string_view target,
                                    std::string_view body, std::chrono::milliseconds timeout,
                                    const std::function<void(std::string_view)>* on_data) {
  Reply reply;
  if (timeout.count() <= 0) timeout = opts.timeout;
  std::string full_target = base_path + std::string(target);
  std::vector<http::Header> headers;
  headers.reserve(opts.headers.size() + 1);
  if (!authorization.empty()) headers.push_back({"authorization", authorization});
  for (const auto& [name, value] : opts.headers) headers.push_back({name, value});
  asio::const_buffer piece(body.data(), body.size());
  http::UpstreamRequest request;
  request.method = method;
  request.target = full_target;
  if (!body.empty()) request.body = std::span(&piece, 1);
  request.headers = headers;
  // The whole exchange is bounded by `timeout`; connecting has its own shorter bound so a
  // gateway that is down is reported quickly.
  auto connect = std::min<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(5000));
  http::UpstreamCall call(pool, http::UpstreamTimeouts{connect, timeout, timeout, timeout});
  auto start = Clock::now();
  auto started = co_await call.start(request);
  if (!started) {
    reply.error = started.error().message;
    reply.total_ms = ms_since(start);
    co_return reply;
  }
  reply.status = call.status();
  const auto& fields = call.response().fields();
  reply.cache = std::string(fields.get("x-sluice-cache"));
  reply.request_id = std::string(fields.get("x-request-id"));
  if (auto ra = fields.get(beast::http::field::retry_after); !ra.empty()) {
    reply.retry_after_s = parse_retry_after(ra);
  }
  if (on_data == nullptr) {
    reply.first_byte_ms = ms_since(start);
    auto whole = co_await call.read_body(opts.max_response_bytes);
    reply.total_ms = ms_since(start);
    if (!whole) {
      reply.status = 0;
      reply.error = whole.error().message;
      co_return reply;
    }
    reply.body = std::move(*whole);
    call.finish();
    co_return reply;
  }
  bool first = true;
  for (;;) {
    auto more = co_await call.read_some();
    if (!more) {
      reply.status = 0;
      reply.error = more.error().message;
      break;
    }
    std::string& received = call.body();
    if (!received.empty()) {
      if (first) reply.first_byte_ms = ms_since(start);
      first = false;
      (*on_data)(received);
      received.clear();
    }
    if (!*more) {
      call.finish();
      break;
    }
  }
  reply.total_ms = ms_since(start);
  co_return reply;
}

}  // namespace

asio::awaitable<Reply> GatewayClient::exchange(std::string_view method, std::string_view target,
                                               std::string_view body,
                                               std::chrono::milliseconds timeout) {
  co_return co_await run_exchange(*state_->pool, state_->options, state_->base_path,
                                  state_->authorization, method, target, body, timeout, nullptr);
}

Reply GatewayClient::post(std::string_view target, std::string_view body,
                          std::chrono::milliseconds timeout) {
  return asio::co_spawn(executor(), exchange("POST", target, body, timeout), asio::use_future)
      .get();
}

Reply GatewayClient::get(std::string_view target) {
  return asio::co_spawn(executor(), exchange("GET", target, {}), asio::use_future).get();
}

Reply GatewayClient::post_stream(std::string_view target, std::string_view body,
                                 std::function<void(std::string_view)> on_data) {
  return asio::co_spawn(executor(),
                        run_exchange(*state_->pool, state_->options, state_->base_path,
                                     state_->authorization, "POST", target, body, {}, &on_data),
                        asio::use_future)
      .get();
}

}  // namespace sluice::batch
