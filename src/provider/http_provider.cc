#include "provider/http_provider.h"

#include <boost/container/small_vector.hpp>

#include "api/errors.h"
#include "core/strings.h"
#include "http/sse.h"
#include "http/trace_context.h"

namespace sluice::provider {

namespace {

constexpr std::uint64_t kMaxErrorBodyBytes = 1024 * 1024;

// Client headers that describe the client's own connection or credentials, or that the gateway
// sets itself: never forwarded, whatever forward_headers says.
bool never_forwarded(std::string_view name) {
  static constexpr std::string_view kNames[] = {"authorization",
                                                "proxy-authorization",
                                                "api-key",
                                                "x-api-key",
                                                "x-goog-api-key",
                                                "anthropic-version",
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
         core::istarts_with(name, "x-ratelimit-") ||
         core::istarts_with(name, "anthropic-ratelimit-");
}

}  // namespace

HttpProvider::HttpProvider(const config::Provider& config, std::size_t slot,
                           std::uint64_t max_response_bytes,
                           std::vector<std::pair<std::string, std::string>> own_headers)
    : name_(config.name),
      kind_(config.kind),
      slot_(slot),
      origin_(http::UpstreamOrigin::from_config(config)),
      base_path_(config.base_url.base_path),
      static_headers_(std::move(own_headers)),
      forward_headers_(config.forward_headers),
      max_response_bytes_(max_response_bytes) {
  for (const auto& header : config.headers) static_headers_.push_back(header);
  timeouts_.connect = config.timeouts.connect;
  timeouts_.first_byte = config.timeouts.first_byte;
  timeouts_.idle = config.timeouts.idle;
  timeouts_.total = config.timeouts.total;
}

asio::awaitable<Exchange> HttpProvider::send(const Call& call, std::string_view target,
                                             std::span<const asio::const_buffer> body, bool stream,
                                             StreamTranslator* translator, StreamSink& sink) const {
  Exchange out;
  http::UpstreamPool& pool = *(*call.resources.pools)[slot_];

  boost::container::small_vector<http::Header, 8> headers;
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
  request.target = target;
  request.body = body;
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
  if (success && stream && core::istarts_with(out.content_type, "text/event-stream")) {
    if (translator != nullptr) out.content_type = "text/event-stream";
    http::SseSplitter splitter;
    std::string translated;
    bool opened = false;
    // Nothing reached the client yet: still a plain failure, which the caller may retry.
    auto broken = [&](core::Error error) {
      out.error = std::move(error);
      if (opened) {
        out.kind = Exchange::Kind::kStreamed;
        out.stream_failed = true;
      }
    };
    for (;;) {
      auto more = co_await up.read_some();
      if (!more) {
        broken(std::move(more.error()));
        co_return out;
      }
      std::string& received = up.body();
      const bool last = !*more;
      // At a clean end, a trailing partial event is passed on as it is: faithful, and SSE
      // clients discard it.
      std::size_t complete = last ? received.size() : splitter.complete_prefix(received);
      if (complete > 0 || last) {
        std::string_view events = std::string_view(received).substr(0, complete);
        if (translator != nullptr) {
          translated.clear();
          // An OpenAI chunk is somewhat longer than the event it comes from: one allocation.
          translated.reserve(2 * events.size());
          auto fed = translator->feed(events, translated);
          if (fed && last) fed = translator->finish(translated);
          if (!fed) {
            // What translated before the failure is the client's: it goes out, then the error.
            if (!translated.empty() && co_await sink.events(out, translated, false)) opened = true;
            broken(std::move(fed.error()));
            co_return out;
          }
          events = translated;
        }
        // An event without a counterpart (a ping) sends nothing, and does not open the stream.
        if (!events.empty() || last) {
          if (!co_await sink.events(out, events, last)) {
            out.kind = Exchange::Kind::kStreamed;
            out.stream_failed = true;
            out.error = core::Error(core::Errc::kCancelled, "The client went away.");
            co_return out;
          }
          opened = true;
        }
        received.erase(0, complete);
        splitter.consumed(complete);
      }
      if (last) break;
    }
    up.finish();
    out.kind = Exchange::Kind::kStreamed;
    co_return out;
  }

  auto whole = co_await up.read_body(success ? max_response_bytes_ : kMaxErrorBodyBytes);
  if (!whole) {
    out.error = std::move(whole.error());
    co_return out;
  }
  up.finish();
  out.kind = Exchange::Kind::kReply;
  out.body = std::move(*whole);
  co_return out;
}

Exchange HttpProvider::refused(const core::Error& error) {
  Exchange out;
  out.kind = Exchange::Kind::kReply;
  out.status = api::http_status(error);
  out.content_type = "application/json";
  out.body = api::error_body(error);
  return out;
}

asio::awaitable<bool> HttpProvider::probe(WorkerResources resources, std::string_view path,
                                          std::chrono::milliseconds timeout) const {
  http::UpstreamPool& pool = *(*resources.pools)[slot_];
  boost::container::small_vector<http::Header, 8> headers;
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
