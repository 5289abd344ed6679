#include "admin/config_api.h"

#include <boost/json.hpp>

#include <string>

#include "admin/admin_request.h"
#include "config/config_json.h"
#include "config/loader.h"
#include "gateway/reloader.h"
#include "gateway/respond.h"
#include "http/server_session.h"

namespace sluice::admin {

namespace bhttp = beast::http;
using core::Errc;

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kPatchSource = "PATCH /admin/config";

// RFC 7386: members of `patch` replace those of `target`, objects merge, null removes.
void merge(json::value& target, const json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object();
  json::object& to = target.as_object();
  for (const auto& [key, value] : patch.as_object()) {
    if (value.is_null()) {
      to.erase(key);
    } else {
      merge(to[key], value);
    }
  }
}

// A list of named entries patched by name: {"gpt-4o": {...}} patches the entry named gpt-4o.
core::Result<void> merge_by_name(json::value& list, const json::object& patch,
                                 std::string_view what) {
  if (!list.is_array()) list = json::array();
  json::array& entries = list.as_array();
  for (const auto& [name, value] : patch) {
    auto it = std::find_if(entries.begin(), entries.end(), [&](const json::value& e) {
      const json::value* n = e.is_object() ? e.as_object().if_contains("name") : nullptr;
      return n != nullptr && n->is_string() && n->as_string() == name;
    });
    if (it == entries.end()) {
      return core::fail(Errc::kInvalidRequest,
                        "There is no " + std::string(what) + " named `" + std::string(name) +
                            "` to patch; to add one, send the whole `" + std::string(what) +
                            "s` list.",
                        std::string(what) + "s");
    }
    if (value.is_null()) {
      entries.erase(it);
      continue;
    }
    if (!value.is_object()) {
      return core::fail(Errc::kInvalidRequest,
                        "A patch of " + std::string(what) + " `" + std::string(name) +
                            "` must be an object (or null to remove it).",
                        std::string(what) + "s");
    }
    merge(*it, value);
  }
  return core::ok();
}

// A redacted value sent back would replace the secret with the marker itself.
bool contains_redaction(const json::value& v) {
  if (v.is_string()) return v.as_string() == config::kRedacted;
  if (v.is_object()) {
    for (const auto& [key, value] : v.as_object()) {
      if (contains_redaction(value)) return true;
    }
  }
  if (v.is_array()) {
    for (const json::value& e : v.as_array()) {
      if (contains_redaction(e)) return true;
    }
  }
  return false;
}

}  // namespace

core::Result<void> merge_config_patch(json::value& doc, const json::value& patch) {
  if (!patch.is_object()) {
    return core::fail(Errc::kInvalidRequest, "The request body must be a JSON object.");
  }
  if (contains_redaction(patch)) {
    return core::fail(Errc::kInvalidRequest,
                      "The patch contains \"" + std::string(config::kRedacted) +
                          "\": send the secret itself, or leave the field out to keep it.");
  }
  if (!doc.is_object()) doc = json::object();
  for (const auto& [key, value] : patch.as_object()) {
    if ((key == "models" || key == "providers") && value.is_object()) {
      auto merged = merge_by_name(doc.as_object()[key], value.as_object(),
                                  key == "models" ? "model" : "provider");
      if (!merged) return merged;
    } else if (value.is_null()) {
      doc.as_object().erase(key);
    } else {
      merge(doc.as_object()[key], value);
    }
  }
  return core::ok();
}

asio::awaitable<void> serve_config(gateway::RequestContext& ctx, gateway::Reloader& reloader) {
  http::ServerSession& session = ctx.session;
  const auto method = session.request().method();
  if (method == bhttp::verb::get || method == bhttp::verb::head) {
    co_await session.respond(200, kJson,
                             config::to_text(config::to_json(*reloader.config(), true)));
    co_return;
  }
  if (method != bhttp::verb::patch) {
    static constexpr http::Header kAllow[] = {{"allow", "GET, HEAD, PATCH"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
  }
  auto patch = parse_json_object(session.request().body());
  if (!patch) co_return co_await gateway::respond_error(ctx, patch.error());
  std::shared_ptr<const config::Config> running = reloader.config();
  json::value doc = config::to_json(*running, false);
  if (auto merged = merge_config_patch(doc, *patch); !merged) {
    co_return co_await gateway::respond_error(ctx, merged.error());
  }
  config::Config next;
  std::string problems;
  try {
    next = config::load_json(doc, running->source);
  } catch (const config::ConfigError& e) {
    problems = e.what();
  }
  if (!problems.empty()) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kInvalidRequest, "The patch was not applied: " + problems));
  }
  auto applied = reloader.apply(std::move(next), true);
  if (!applied) co_return co_await gateway::respond_error(ctx, applied.error());
  co_await session.respond(200, kJson, config::to_text(config::to_json(*reloader.config(), true)));
}

}  // namespace sluice::admin
