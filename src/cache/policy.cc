#include "cache/policy.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include "core/strings.h"

namespace sluice::cache {

namespace {

// A year: longer TTLs are almost certainly a unit mistake (milliseconds for seconds).
constexpr std::int64_t kMaxTtlSeconds = 365 * 24 * 3600;

std::optional<std::int64_t> parse_seconds(std::string_view text) {
  text = core::trim(text);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);  // tolerated: some clients quote the value
  }
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

core::Error bad_header(std::string_view header, std::string_view value, std::string_view rule) {
  return core::Error(core::Errc::kInvalidRequest, "Invalid " + std::string(header) + " header \"" +
                                                      std::string(value.substr(0, 100)) +
                                                      "\": " + std::string(rule) + ".");
}

}  // namespace

bool endpoint_cached(const config::Cache& config, api::Endpoint endpoint) {
  if (!config.enabled) return false;
  switch (endpoint) {
    case api::Endpoint::kChatCompletions:
      return config.chat;
    case api::Endpoint::kCompletions:
      return config.completions;
    case api::Endpoint::kEmbeddings:
      return config.embeddings;
    case api::Endpoint::kImageGenerations:
      return config.images;
  }
  return false;
}

core::Result<Policy> request_policy(const config::Cache& config, const http::Fields& headers,
                                    bool deterministic) {
  Policy p;
  p.lookup = p.store = true;
  p.ttl_ms = config.ttl.count();

  // Every Cache-Control line counts (a client may send several).
  for (const auto& field : headers) {
    if (field.id != beast::http::field::cache_control) continue;
    std::string_view rest = field.value;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view directive = core::trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      std::size_t eq = directive.find('=');
      std::string_view name = core::trim(directive.substr(0, eq));
      if (core::iequals(name, "no-store")) {
        p.lookup = p.store = false;
        p.bypass_reason = "no-store";
      } else if (core::iequals(name, "no-cache")) {
        p.lookup = false;
        if (p.bypass_reason.empty()) p.bypass_reason = "no-cache";
      } else if (core::iequals(name, "max-age")) {
        auto seconds =
            eq == std::string_view::npos ? std::nullopt : parse_seconds(directive.substr(eq + 1));
        if (!seconds) {
          return bad_header("Cache-Control", field.value,
                            "max-age must be a whole number of seconds, such as max-age=300");
        }
        std::int64_t ms = *seconds > kMaxTtlSeconds ? kMaxTtlSeconds * 1000 : *seconds * 1000;
        p.max_age_ms = p.max_age_ms < 0 ? ms : std::min(p.max_age_ms, ms);
      }
      // Other directives (private, max-stale, ...) do not apply to a gateway's answer cache.
    }
  }

  if (std::string_view ttl = headers.get("x-sluice-cache-ttl"); !ttl.empty()) {
    auto seconds = parse_seconds(ttl);
    if (!seconds || *seconds > kMaxTtlSeconds) {
      return bad_header(
          "x-sluice-cache-ttl", ttl,
          "expected a whole number of seconds from 0 to " + std::to_string(kMaxTtlSeconds));
    }
    p.ttl_ms = *seconds * 1000;
    if (*seconds == 0) p.store = false;
  }

  if (config.only_deterministic && !deterministic) {
    p.lookup = p.store = false;
    p.bypass_reason = "not deterministic";
  }
  return p;
}

}  // namespace sluice::cache
