// The admin API's JSON for keys, both ways (keys.h): parse_key_spec and key_json.
#include <boost/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "api/errors.h"
#include "core/asio.h"
#include "store/keys.h"

namespace sluice::store {

namespace {

// 9999-12-31T23:59:59Z: later expiries are typos, and this keeps milliseconds far from overflow.
constexpr std::int64_t kMaxUnixSeconds = 253'402'300'799;
constexpr std::uint64_t kMaxTokenLimit = std::numeric_limits<std::int64_t>::max();

core::Error invalid(std::string message, std::string param) {
  return core::Error(core::Errc::kInvalidRequest, std::move(message), std::move(param));
}

std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", d);
  return buf;
}

// A whole number in [0, max]. JSON has one number type, so 3.0 and 3e2 count as whole.
core::Result<std::uint64_t> whole_number(const json::value& v, const std::string& field,
                                         std::uint64_t max) {
  auto too_large = [&] {
    return invalid(field + " must be at most " + std::to_string(max), field);
  };
  if (v.is_int64()) {
    if (v.get_int64() < 0) return invalid(field + " must not be negative", field);
    if (static_cast<std::uint64_t>(v.get_int64()) > max) return too_large();
    return static_cast<std::uint64_t>(v.get_int64());
  }
  if (v.is_uint64()) {
    if (v.get_uint64() > max) return too_large();
    return v.get_uint64();
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (d < 0) return invalid(field + " must not be negative", field);
    if (d != std::floor(d)) {
      return invalid(field + " must be a whole number, not " + number_text(d), field);
    }
    if (d > static_cast<double>(max)) return too_large();
    return static_cast<std::uint64_t>(d);
  }
  return invalid(field + " must be a whole number, not " + std::string(api::json_type_name(v)),
                 field);
}

core::Result<double> usd(const json::value& v, const std::string& field) {
  if (!v.is_number()) {
    return invalid(field + " must be a number of USD, not " + std::string(api::json_type_name(v)),
                   field);
  }
  double d = v.to_number<double>();
  if (d < 0) return invalid(field + " must not be negative", field);
  return d;
}

bool has_control_chars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

core::Result<std::string> parse_name(const json::value& v) {
  if (!v.is_string())
    return invalid("name must be a string, not " + std::string(api::json_type_name(v)), "name");
  std::string_view name = v.get_string();
  if (name.empty()) return invalid("name must not be empty", "name");
  if (name.size() > kMaxNameBytes) {
    return invalid("name must be at most " + std::to_string(kMaxNameBytes) + " bytes", "name");
  }
  if (has_control_chars(name)) return invalid("name must not contain control characters", "name");
  return std::string(name);
}

core::Result<std::vector<std::string>> parse_models(const json::value& v) {
  if (!v.is_array()) {
    return invalid("models must be an array of model names or globs, not " +
                       std::string(api::json_type_name(v)),
                   "models");
  }
  const json::array& a = v.get_array();
  if (a.size() > kMaxModelPatterns) {
    return invalid("models may have at most " + std::to_string(kMaxModelPatterns) + " entries",
                   "models");
  }
  std::vector<std::string> out;
  out.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::string at = "models[" + std::to_string(i) + "]";
    if (!a[i].is_string()) {
      return invalid(at + " must be a string, not " + std::string(api::json_type_name(a[i])),
                     "models");
    }
    std::string_view p = a[i].get_string();
    if (p.empty()) return invalid(at + " must not be empty", "models");
    if (p.size() > kMaxPatternBytes) {
      return invalid(at + " must be at most " + std::to_string(kMaxPatternBytes) + " bytes",
                     "models");
    }
    for (unsigned char c : p) {
      if (c <= 0x20 || c == 0x7f) {
        return invalid(at + " must not contain spaces or control characters", "models");
      }
      if (c == '[' || c == ']') {
        return invalid(at + " uses [...], which is not supported: use * (any characters) and ? "
                            "(one character)",
                       "models");
      }
    }
    out.emplace_back(p);
  }
  return out;
}

bool namespace_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

core::Result<std::string> parse_namespace(const json::value& v) {
  const std::string field = "cache_namespace";
  if (v.is_null()) return std::string();
  if (!v.is_string()) {
    return invalid(field + " must be a string (or null for the key's own), not " +
                       std::string(api::json_type_name(v)),
                   field);
  }
  std::string_view ns = v.get_string();
  if (ns.size() > kMaxNamespaceBytes) {
    return invalid(field + " must be at most " + std::to_string(kMaxNamespaceBytes) + " bytes",
                   field);
  }
  for (char c : ns) {
    if (!namespace_char(c)) {
      return invalid(field + " may contain only letters, digits, '-', '_', '.' and ':'", field);
    }
  }
  // A key's own namespace is its id; a shared name that looked like one could read another
  // key's cached answers.
  if (ns.starts_with("key_")) {
    return invalid(field + " must not start with \"key_\" (keys' own namespaces are their ids)",
                   field);
  }
  return std::string(ns);
}

core::Result<std::int64_t> parse_expiry(const json::value& v) {
  const std::string field = "expires_at";
  if (v.is_null()) return std::int64_t{0};
  const std::string what = field + " must be a unix time in seconds (or null for never)";
  if (!v.is_number()) return invalid(what + ", not " + std::string(api::json_type_name(v)), field);
  if (v.to_number<double>() <= 0) return invalid(what + ", greater than 0", field);
  auto s = whole_number(v, field, kMaxUnixSeconds);
  if (!s) return s.error();
  return static_cast<std::int64_t>(*s) * 1000;
}

core::Result<void> parse_budget(const json::value& v, KeySpec& spec) {
  if (!v.is_object()) {
    return invalid("budget must be an object with daily, monthly and total (USD), not " +
                       std::string(api::json_type_name(v)),
                   "budget");
  }
  for (const auto& member : v.get_object()) {
    std::string field = "budget." + std::string(member.key());
    std::optional<double>* slot = nullptr;
    if (member.key() == "daily") {
      slot = &spec.budget_daily;
    } else if (member.key() == "monthly") {
      slot = &spec.budget_monthly;
    } else if (member.key() == "total") {
      slot = &spec.budget_total;
    } else {
      return invalid("unknown field " + field + " (expected daily, monthly or total)", field);
    }
    auto amount = usd(member.value(), field);
    if (!amount) return amount.error();
    *slot = *amount;
  }
  return core::ok();
}

bool read_only(std::string_view field) {
  return field == "id" || field == "object" || field == "prefix" || field == "created_at" ||
         field == "revoked_at" || field == "secret" || field == "hash";
}

json::value seconds_or_null(std::int64_t ms) {
  if (ms == 0) return nullptr;
  // Floor, so a time shown never lies after the real one.
  std::int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  return s;
}

}  // namespace

core::Result<KeySpec> parse_key_spec(const json::value& body, SpecMode mode) {
  if (!body.is_object()) {
    return invalid(
        "the request body must be a JSON object, not " + std::string(api::json_type_name(body)),
        "");
  }
  KeySpec spec;
  for (const auto& member : body.get_object()) {
    std::string field(member.key());
    const json::value& v = member.value();
    if (field == "name") {
      auto name = parse_name(v);
      if (!name) return name.error();
      spec.name = std::move(*name);
    } else if (field == "models") {
      auto models = parse_models(v);
      if (!models) return models.error();
      spec.models = std::move(*models);
    } else if (field == "rpm" || field == "tpm") {
      auto n = whole_number(v, field, kMaxTokenLimit);
      if (!n) return n.error();
      (field == "rpm" ? spec.rpm : spec.tpm) = *n;
    } else if (field == "max_concurrency") {
      auto n = whole_number(v, field, std::numeric_limits<int>::max());
      if (!n) return n.error();
      spec.max_concurrency = static_cast<int>(*n);
    } else if (field == "budget") {
      if (auto r = parse_budget(v, spec); !r) return r.error();
    } else if (field == "cache_namespace") {
      auto ns = parse_namespace(v);
      if (!ns) return ns.error();
      spec.cache_namespace = std::move(*ns);
    } else if (field == "expires_at") {
      auto at = parse_expiry(v);
      if (!at) return at.error();
      spec.expires_at_ms = *at;
    } else if (field == "metadata") {
      if (!v.is_object()) {
        return invalid("metadata must be an object, not " + std::string(api::json_type_name(v)),
                       field);
      }
      if (json::serialize(v).size() > kMaxMetadataBytes) {
        return invalid(
            "metadata must be at most " + std::to_string(kMaxMetadataBytes) + " bytes of JSON",
            field);
      }
      spec.metadata = v.get_object();
    } else if (read_only(field)) {
      return invalid(field + " cannot be set", field);
    } else {
      return invalid("unknown field \"" + field + "\"", field);
    }
  }
  if (mode == SpecMode::kCreate && !spec.name) return invalid("name is required", "name");
  return spec;
}

json::object key_json(const KeyRecord& key) {
  json::object o;
  o["id"] = key.id;
  o["object"] = "sluice.key";
  o["name"] = key.name;
  o["prefix"] = key.prefix;
  json::array models;
  for (const auto& m : key.models) models.emplace_back(m);
  o["models"] = std::move(models);
  o["rpm"] = key.rpm;
  o["tpm"] = key.tpm;
  o["max_concurrency"] = key.max_concurrency;
  o["budget"] = json::object{
      {"daily", key.budget_daily}, {"monthly", key.budget_monthly}, {"total", key.budget_total}};
  o["cache_namespace"] =
      key.cache_namespace.empty() ? json::value(nullptr) : json::value(key.cache_namespace);
  o["expires_at"] = seconds_or_null(key.expires_at_ms);
  o["metadata"] = key.metadata;
  o["created_at"] = key.created_at_ms / 1000;
  o["revoked_at"] = seconds_or_null(key.revoked_at_ms);
  return o;
}

}  // namespace sluice::store
