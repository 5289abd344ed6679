#include "api/usage.h"

#include <boost/json.hpp>

#include "core/asio.h"

namespace sluice::api {

namespace {

std::uint64_t count(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() > 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

std::optional<Usage> usage_of(const json::object& o) {
  Usage u;
  u.prompt_tokens = count(o, "prompt_tokens");
  u.completion_tokens = count(o, "completion_tokens");
  if (u.prompt_tokens == 0 && u.completion_tokens == 0) {
    u.prompt_tokens = count(o, "input_tokens");
    u.completion_tokens = count(o, "output_tokens");
  }
  if (const json::value* d = o.if_contains("prompt_tokens_details"); d && d->is_object()) {
    u.cached_tokens = count(d->as_object(), "cached_tokens");
  } else if (const json::value* d = o.if_contains("input_tokens_details"); d && d->is_object()) {
    u.cached_tokens = count(d->as_object(), "cached_tokens");
  }
  return u;
}

}  // namespace

std::optional<Usage> find_usage(std::string_view text) {
  constexpr std::string_view kMember = "\"usage\"";
  std::size_t end = text.size();
  while (end != 0) {
    std::size_t at = text.rfind(kMember, end - 1);
    if (at == std::string_view::npos) return std::nullopt;
    end = at;
    std::size_t i = at + kMember.size();
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' ||
                               text[i] == '\r' || text[i] == ':')) {
      ++i;
    }
    if (i >= text.size() || text[i] != '{') continue;  // "usage": null, or not a member
    json::stream_parser parser;
    boost::system::error_code ec;
    parser.write_some(text.data() + i, text.size() - i, ec);
    if (ec || !parser.done()) continue;
    json::value v = parser.release();
    if (!v.is_object()) continue;
    return usage_of(v.as_object());
  }
  return std::nullopt;
}

}  // namespace sluice::api
