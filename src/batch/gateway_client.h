// The client that `sluice batch`, `sluice run`, `sluice compare` and the server's batch executor
// use to send requests to a gateway: its own worker thread with one keep-alive connection pool
// (the gateway's own upstream client, http::UpstreamPool, so connect, first-byte, idle and total
// deadlines and TLS behave as they do towards providers).
//
// Thread safety: post() and post_stream() may be called from any thread and block the caller;
// exchange() runs on the client's thread (executor()), for coroutines that live there.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/asio.h"
#include "core/error.h"
#include "http/message.h"

namespace sluice::net {
class Worker;
}

namespace sluice::batch {

// What came back for one request. `status` 0 means no answer arrived: `error` says why.
struct Reply {
  int status = 0;
  std::string body;
  std::string cache;          // x-sluice-cache: hit, miss, coalesced, bypass, or empty
  std::string request_id;     // x-request-id
  double retry_after_s = -1;  // Retry-After on a 429 or 503, seconds; -1 when absent
  std::string error;
  double first_byte_ms = 0;  // from sending to the response head
  double total_ms = 0;       // from sending to the last body byte
};

class GatewayClient {
 public:
  struct Options {
    std::string url;      // http://HOST:PORT or https://HOST:PORT
    std::string api_key;  // sent as Authorization: Bearer; empty: none
    std::vector<std::pair<std::string, std::string>> headers;  // added to every request
    std::chrono::milliseconds timeout{600000};                 // the whole exchange
    std::uint64_t max_response_bytes = 256ull << 20;
  };

  // Parses the URL and starts the thread; an error names what is wrong with the URL.
  static core::Result<std::unique_ptr<GatewayClient>> open(Options options);
  ~GatewayClient();  // stops the thread; calls in progress end with an error

  asio::any_io_executor executor();

  // On the client's thread: sends `body` (JSON) to `target` ("/v1/chat/completions") with
  // `method`, and reads the whole answer. `timeout` 0 means the client's.
  asio::awaitable<Reply> exchange(std::string_view method, std::string_view target,
                                  std::string_view body, std::chrono::milliseconds timeout = {});

  // From any thread, blocking.
  Reply post(std::string_view target, std::string_view body,
             std::chrono::milliseconds timeout = {});
  Reply get(std::string_view target);
  // A streamed answer: `on_data` gets each piece of the body as it arrives (on the client's
  // thread); the Reply's body stays empty and first_byte_ms is the time to the first piece.
  Reply post_stream(std::string_view target, std::string_view body,
                    std::function<void(std::string_view)> on_data);

 private:
  struct State;
  explicit GatewayClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sluice::batch
