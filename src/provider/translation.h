// What a translating provider (Anthropic, Gemini) needs from its translator, and what the
// Anthropic front (/v1/messages) needs from its own: a request body turned into another vendor's,
// a whole answer turned back, and a stream turned back event by event.
//
// Translators are pure: JSON text in, JSON or SSE text out, no I/O and no clock (the `created`
// time is passed in), so golden tests pin them byte for byte. Errors are core::Error values:
// kInvalidRequest (with `param`) for a request that cannot be expressed in the other API,
// kUpstreamProtocol for an answer or event that is not what the API documents.
//
// Thread safety: the functions are pure; a StreamTranslator belongs to one stream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sluice::provider {

// A request in the other API's shape.
struct TranslatedRequest {
  std::string body;
  bool stream = false;         // the client asked for a stream
  bool include_usage = false;  // and for the usage chunk at its end (stream_options)
};

// A whole answer in the other API's shape.
struct TranslatedReply {
  int status = 200;
  std::string body;  // JSON
};

// Turns a stream of one API's events into the other's.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;

  // `events` is one or more complete SSE events (http::SseSplitter cuts them); the translated
  // events are appended to `out` (possibly nothing, for an event that has no counterpart). A
  // mid-stream error event from upstream fails with kUpstreamError and the upstream's message
  // (the caller ends the client's stream with an error event); malformed data fails with
  // kUpstreamProtocol. After a failure the translator is not fed again.
  virtual core::Result<void> feed(std::string_view events, std::string& out) = 0;

  // The upstream's stream ended cleanly: append what closes the translated stream (OpenAI's
  // usage chunk and `data: [DONE]`, Anthropic's message_stop). Fails with kUpstreamProtocol when
  // the upstream ended before its own end marker (a cut stream is not passed off as whole).
  virtual core::Result<void> finish(std::string& out) = 0;
};

}  // namespace sluice::provider
