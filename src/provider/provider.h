// The Provider interface: one attempt to get an answer from one deployment, in OpenAI's wire
// format. OpenAI-compatible providers pass the request through (rewriting at most `model`);
// translating providers (Anthropic, Gemini) convert both ways; the mock answers in-process.
//
// A provider never talks to the client. A non-stream answer, or an error answer from upstream,
// comes back whole in the Exchange; a stream goes, event by event, to the StreamSink, which the
// pipeline implements (writing to the client, and later teeing into the cache and coalescer).
// Everything before the first sink call can be retried by the caller; nothing after it can.
//
// Thread safety: a Provider is immutable after construction and shared by all workers; all
// per-worker state (connection pools) comes in through the Call.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/inference_request.h"
#include "core/asio.h"
#include "core/error.h"
#include "http/message.h"
#include "http/response_head.h"

namespace sluice::http {
class UpstreamPool;
struct UpstreamTimeouts;
}  // namespace sluice::http

namespace sluice::provider {

// Per-worker resources a provider may use, indexed by the provider's slot.
struct WorkerResources {
  std::vector<http::UpstreamPool*>* pools = nullptr;  // by provider slot
};

// One attempt, as the pipeline asks for it.
struct Call {
  const api::InferenceRequest& request;
  std::string_view upstream_model;  // the model name this deployment expects
  const http::Request& client;      // for forwarded headers
  std::string_view request_id;
  WorkerResources resources;
  // The deployment's timeouts (the model's overrides applied, the total cut to what is left of
  // the request's deadline); null: the provider's own.
  const http::UpstreamTimeouts* timeouts = nullptr;
};

struct Exchange;

// Where a streamed answer goes.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Complete SSE events (one or more). The first call also opens the stream with `head`'s status
  // and headers. `last` says no more events follow (the upstream stream ended cleanly). Returns
  // false when the client is gone; the provider then abandons the call.
  virtual asio::awaitable<bool> events(const Exchange& head, std::string_view data, bool last) = 0;
};

struct Exchange {
  enum class Kind {
    kReply,     // a whole answer in `status`, `content_type`, `body` (success or upstream error)
    kStreamed,  // events went to the sink; `error` set when the stream broke mid-way
    kFailed,    // no answer at all: `error` says why (connect, timeout, protocol)
  };
  Kind kind = Kind::kFailed;
  int status = 0;
  std::string content_type;
  std::string body;
  // Upstream headers worth passing on to the client (retry-after, openai-*, x-ratelimit-*).
  std::vector<std::pair<std::string, std::string>> headers;
  core::Error error;
  bool stream_failed = false;
  std::chrono::steady_clock::time_point first_byte_at{};
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view kind() const = 0;
  virtual asio::awaitable<Exchange> exchange(const Call& call, StreamSink& sink) const = 0;
  // An active health check (docs/routing.md, "Health"): GET <base_url><path>, true when it
  // answers 2xx within `timeout`. In-process providers are always up.
  virtual asio::awaitable<bool> probe(WorkerResources resources, std::string_view path,
                                      std::chrono::milliseconds timeout) const;
};

}  // namespace sluice::provider
