#include "provider/openai_provider.h"

#include <boost/container/small_vector.hpp>
#include <boost/json/serialize.hpp>

#include "core/strings.h"
#include "http/sse.h"
#include "http/trace_context.h"

namespace sluice::provider {

namespace bhttp = beast::http;

namespace {

constexpr std::uint64_t kMaxErrorBodyBytes = 1024 * 1024;

asio::const_buffer cbuf(std::string_view s) { return asio::const_buffer(s.data(), s.size()); }

// Client headers that describe the client's own connection or credentials, or that the gateway
// sets itself: never forwarded, whatever forward_headers says.
bool never_forwarded(std::string_view name) {
  static constexpr std::string_view kNames[] = {"authorization",
                                                "proxy-authorization",
                                                "host",
                                                "content-length",
                                                "transfer-encoding",
                                                "connection",
                                                "keep-alive",
                                                "te",
                                                "upgrade",
                                                "expect",
                                                "content-type",
                                                "trailer",
                                                "x-request-id",
                                                "traceparent",
                                                "tracestate"};
  for (auto n : kNames) {
    if (core::iequals(name, n)) return true;
  }
  return false;
}

// Upstream response headers a client may act on (rate limits, retry hints, processing time).
bool passed_back(std::string_view name) {
  return core::iequals(name, "retry-after") || core::istarts_with(name, "openai-") ||
         core::istarts_with(name, "x-ratelimit-");
}

}  // namespace

OpenAIProvider::OpenAIProvider(const config::Provider& config, std::size_t slot,
                               std::uint64_t max_response_bytes)
    : name_(config.name),
      slot_(slot),
      origin_(http::UpstreamOrigin::from_config(config)),
      base_path_(config.base_url.base_path),
      static_headers_(config.headers),
      forward_headers_(config.forward_headers),
      max_response_bytes_(max_response_bytes) {
  if (!config.api_key.empty()) authorization_ = "Bearer " + config.api_key;
  for (auto e : {api::Endpoint::kChatCompletions, api::Endpoint::kCompletions,
                 api::Endpoint::kEmbeddings, api::Endpoint::kImageGenerations}) {
    targets_[static_cast<std::size_t>(e)] =
        config.base_url.base_path + std::string(api::endpoint_path(e));
  }
  timeouts_.connect = config.timeouts.connect;
  timeouts_.first_byte = config.timeouts.first_byte;
  timeouts_.idle = config.timeouts.idle;
  timeouts_.total = config.timeouts.total;
}

asio::awaitable<Exchange> OpenAIProvider::exchange(const Call& call, StreamSink& sink) const {
  Exchange out;
  const api::InferenceRequest& r = call.request;
  http::UpstreamPool& pool = *(*call.resources.pools)[slot_];

  // The body: the client's bytes, with the model value spliced when the alias differs.
  std::array<asio::const_buffer, 3> pieces;
  std::size_t piece_count = 1;
  std::string spliced_model;
  std::string rebuilt;
  if (call.upstream_model == r.model()) {
    pieces[0] = cbuf(r.body);
  } else if (r.model_end > r.model_begin) {
    // Three buffers, one write: no copy of the body.
    spliced_model = json::serialize(json::string_view(call.upstream_model));
    pieces[0] = cbuf(r.body.substr(0, r.model_begin));
    pieces[1] = cbuf(spliced_model);
    pieces[2] = cbuf(r.body.substr(r.model_end));
    piece_count = 3;
  } else {
    rebuilt = api::body_with_model(r, call.upstream_model);  // escaped or duplicated key: rare
    pieces[0] = cbuf(rebuilt);
  }

  boost::container::small_vector<http::Header, 8> headers;
  if (!authorization_.empty()) headers.push_back({"authorization", authorization_});
  headers.push_back({"x-request-id", call.request_id});
  // W3C trace context, so the provider's side of a trace joins the client's.
  if (std::string_view trace = call.client.fields().get("traceparent");
      !trace.empty() && http::valid_traceparent(trace)) {
    headers.push_back({"traceparent", trace});
    std::string_view state = call.client.fields().get("tracestate");
    if (!state.empty() && state.size() <= 512) headers.push_back({"tracestate", state});
  }
  for (const auto& [name, value] : static_headers_) headers.push_back({name, value});
  if (!forward_headers_.empty()) {
    for (auto field : call.client.fields()) {
      std::string_view name = field.name;
      if (never_forwarded(name)) continue;
      for (const auto& pattern : forward_headers_) {
        if (core::glob_match(pattern, name, true)) {
          headers.push_back({name, field.value});
          break;
        }
      }
    }
  }

  http::UpstreamRequest request;
  request.target = targets_[static_cast<std::size_t>(r.endpoint)];
  request.body = std::span(pieces.data(), piece_count);
  request.headers = std::span(headers.data(), headers.size());

  http::UpstreamCall up(pool, call.timeouts != nullptr ? *call.timeouts : timeouts_);
  auto started = co_await up.start(request);
  if (!started) {
    out.error = std::move(started.error());
    co_return out;
  }
  out.first_byte_at = up.first_byte_at();
  out.status = up.status();
  out.content_type = std::string(up.content_type());
  for (auto field : up.response().fields()) {
    if (passed_back(field.name)) out.headers.emplace_back(core::to_lower(field.name), field.value);
  }

  const bool success = out.status >= 200 && out.status < 300;
  if (success && r.stream && core::istarts_with(out.content_type, "text/event-stream")) {
    http::SseSplitter splitter;
    bool opened = false;
    for (;;) {
      auto more = co_await up.read_some();
      if (!more) {
        out.error = std::move(more.error());
        if (!opened) co_return out;  // nothing reached the client: still a plain failure
        out.kind = Exchange::Kind::kStreamed;
        out.stream_failed = true;
        co_return out;
      }
      std::string& body = up.body();
      const bool last = !*more;
      // At a clean end, a trailing partial event is passed on as it is: faithful, and SSE
      // clients discard it.
      std::size_t complete = last ? body.size() : splitter.complete_prefix(body);
      if (complete > 0 || last) {
        if (!co_await sink.events(out, std::string_view(body).substr(0, complete), last)) {
          out.kind = Exchange::Kind::kStreamed;
          out.stream_failed = true;
          out.error = core::Error(core::Errc::kCancelled, "The client went away.");
          co_return out;
        }
        opened = true;
        body.erase(0, complete);
        splitter.consumed(complete);
      }
      if (last) break;
    }
    up.finish();
    out.kind = Exchange::Kind::kStreamed;
    co_return out;
  }

  auto body = co_await up.read_body(success ? max_response_bytes_ : kMaxErrorBodyBytes);
  if (!body) {
    out.error = std::move(body.error());
    co_return out;
  }
  up.finish();
  out.kind = Exchange::Kind::kReply;
  out.body = std::move(*body);
  co_return out;
}

asio::awaitable<bool> OpenAIProvider::probe(WorkerResources resources, std::string_view path,
                                            std::chrono::milliseconds timeout) const {
  http::UpstreamPool& pool = *(*resources.pools)[slot_];
  boost::container::small_vector<http::Header, 8> headers;
  if (!authorization_.empty()) headers.push_back({"authorization", authorization_});
  for (const auto& [name, value] : static_headers_) headers.push_back({name, value});
  const std::string target = base_path_ + std::string(path);
  http::UpstreamRequest request;
  request.method = "GET";
  request.target = target;
  request.content_type = {};
  request.headers = std::span(headers.data(), headers.size());
  http::UpstreamCall up(pool, http::UpstreamTimeouts{timeout, timeout, timeout, timeout});
  if (!co_await up.start(request)) co_return false;
  const int status = up.status();
  if (!co_await up.read_body(kMaxErrorBodyBytes)) co_return false;
  up.finish();
  co_return status >= 200 && status < 300;
}

}  // namespace sluice::provider
