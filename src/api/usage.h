// The token usage an upstream answer reports, read without parsing the answer: OpenAI puts
// "usage" after "choices", so the last `"usage"` member is found from the end and only its object
// is scanned for the counts, up to where they are all known. Works on a JSON answer and on SSE
// text alike (a stream's usage chunk is the last event with a "usage" object; "usage": null on
// other chunks is skipped).
//
// Pure functions and a small per-request tap; thread-safe as values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::api {

struct Usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t cached_tokens = 0;  // prompt_tokens_details.cached_tokens: billed at a discount
  std::uint64_t total() const { return prompt_tokens + completion_tokens; }
};

// The last "usage" object in `text`, or nullopt when there is none (or it is null or malformed).
// Embeddings report prompt_tokens only; image answers' input_tokens/output_tokens are read as
// prompt/completion tokens. An object that does not close counts only if the text was cut after
// its prompt, completion and cached tokens (nothing later in it could change them); one cut
// before them is malformed.
std::optional<Usage> find_usage(std::string_view text);

// Sees a stream's batches of events as they pass and keeps the last usage reported. The usage
// chunk is the stream's last event before [DONE], so only the tail of each batch is looked at
// (a stream's cost must not grow with its length); a member name cannot start inside a string
// value, whose quotes are escaped, so a tail that begins mid-event is read correctly.
class StreamUsageTap {
 public:
  static constexpr std::size_t kTailBytes = 4096;

  // True when this batch carried the usage.
  bool feed(std::string_view events) {
    if (events.size() > kTailBytes) events.remove_prefix(events.size() - kTailBytes);
    auto u = find_usage(events);
    if (u) usage_ = u;
    return u.has_value();
  }
  const std::optional<Usage>& usage() const { return usage_; }

 private:
  std::optional<Usage> usage_;
};

}  // namespace sluice::api
