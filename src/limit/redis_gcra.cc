#include "limit/redis_gcra.h"

#include <algorithm>
#include <limits>

#include "limit/gcra_math.h"
#include "limit/redis_gcra_script.h"

namespace sluice::limit {

namespace {

using net::RedisReply;
using Type = RedisReply::Type;
using SteadyTime = std::chrono::steady_clock;

Decision unlimited() {
  return Decision{true, std::numeric_limits<std::int64_t>::max(), std::chrono::milliseconds(0),
                  std::chrono::milliseconds(0)};
}

bool limited(const Charge& c) { return c.rate.per_minute != 0; }

std::string describe(const RedisReply& r) {
  switch (r.type) {
    case Type::kError:
      return "error: " + r.str;
    case Type::kTimeout:
      return "timed out";
    case Type::kNotSent:
      return "not connected";
    case Type::kLost:
      return "connection lost";
    default:
      return "unexpected reply";
  }
}

bool is_noscript(const RedisReply& r) {
  return r.type == Type::kError && r.str.starts_with("NOSCRIPT");
}

// An ahead value from Redis, clamped to what the arithmetic expects.
std::int64_t ahead_of(const RedisReply& r) {
  return std::clamp<long long>(r.integer, 0, kGcraMaxSpan);
}

}  // namespace

RedisGcra::RedisGcra(std::shared_ptr<net::RedisConnection> connection, Options options)
    : connection_(std::move(connection)), options_(std::move(options)) {}

std::string RedisGcra::key_name(std::string_view key) const {
  std::string name;
  name.reserve(options_.key_prefix.size() + key.size());
  name += options_.key_prefix;
  name += key;
  return name;
}

std::string RedisGcra::now_arg() const {
  if (options_.clock == nullptr) return {};
  return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                            options_.clock->now().time_since_epoch())
                            .count());
}

// A restart of Redis empties its script cache, and the connection reconnects to get there.
bool RedisGcra::script_loaded() const {
  return loaded_ &&
         connection_->counters().reconnects.load(std::memory_order_relaxed) == loaded_reconnects_;
}

asio::awaitable<std::optional<std::vector<Decision>>> RedisGcra::acquire(
    std::span<const Charge> charges) {
  std::vector<Decision> decisions(charges.size(), unlimited());
  std::vector<std::size_t> sent;
  sent.reserve(charges.size());
  for (std::size_t i = 0; i < charges.size(); ++i) {
    if (limited(charges[i])) sent.push_back(i);
  }
  if (sent.empty()) co_return decisions;
  if (!connection_->ready()) {
    last_failure_ = "not connected";
    co_return std::nullopt;
  }
  const auto deadline = SteadyTime::now() + options_.timeout;

  // EVALSHA sha numkeys key... "a" now (span tolerance never)...
  std::vector<GcraParams> params;
  params.reserve(sent.size());
  std::vector<std::string> text;
  text.reserve(1 + sent.size() * 4 + 1);
  text.push_back(std::to_string(sent.size()));
  for (std::size_t i : sent) text.push_back(key_name(charges[i].key));
  text.push_back(now_arg());
  for (std::size_t i : sent) {
    const GcraParams p = gcra_params(charges[i].rate);
    params.push_back(p);
    text.push_back(std::to_string(gcra_span(p.interval, charges[i].cost)));
    text.push_back(std::to_string(p.tolerance));
    text.push_back(charges[i].cost > p.burst ? "1" : "0");
  }
  std::vector<std::string_view> args;
  args.reserve(text.size() + 3);
  args.push_back("EVALSHA");
  args.push_back(redis_gcra_script_sha1());
  args.push_back(text[0]);
  for (std::size_t i = 1; i <= sent.size(); ++i) args.push_back(text[i]);
  args.push_back("a");
  for (std::size_t i = sent.size() + 1; i < text.size(); ++i) args.push_back(text[i]);

  RedisReply reply = co_await connection_->call(args, options_.timeout);
  if (is_noscript(reply)) {
    loaded_ = false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyTime::now());
    if (left.count() <= 0) {
      last_failure_ = "timed out loading the script";
      co_return std::nullopt;
    }
    args[0] = "EVAL";
    args[1] = redis_gcra_script();
    reply = co_await connection_->call(args, left);
  }
  if (reply.type != Type::kArray || reply.elements.size() != sent.size() + 1 ||
      !std::all_of(reply.elements.begin(), reply.elements.end(),
                   [](const RedisReply& e) { return e.type == Type::kInteger; })) {
    last_failure_ = describe(reply);
    co_return std::nullopt;
  }
  loaded_ = true;
  loaded_reconnects_ = connection_->counters().reconnects.load(std::memory_order_relaxed);

  const long long refused = reply.elements[0].integer;  // 1-based; 0 when all were taken
  bool consistent = refused >= 0 && refused <= static_cast<long long>(sent.size());
  for (std::size_t j = 0; consistent && j < sent.size(); ++j) {
    const Charge& c = charges[sent[j]];
    const std::int64_t ahead = ahead_of(reply.elements[j + 1]);
    Decision& d = decisions[sent[j]];
    if (refused == 0) {
      d = gcra_decide(ahead, params[j], c.cost).decision;
      consistent = d.allowed;
    } else if (static_cast<std::size_t>(refused) == j + 1) {
      d = gcra_decide(ahead, params[j], c.cost).decision;
      consistent = !d.allowed;
    } else {
      d = gcra_untaken(ahead, params[j], c.cost);
    }
  }
  if (!consistent) {
    // Only possible beyond the precision of Lua's doubles (spans over 2^53 ns, 104 days).
    last_failure_ = "inconsistent answer";
    co_return std::nullopt;
  }
  co_return decisions;
}

void RedisGcra::release(std::span<const Charge> charges) { update("r", charges); }

void RedisGcra::consume(std::span<const Charge> charges) { update("c", charges); }

void RedisGcra::update(std::string_view op, std::span<const Charge> charges) {
  std::vector<std::string> text;
  text.reserve(2 + 2 * charges.size());
  text.emplace_back();  // numkeys
  std::size_t n = 0;
  for (const Charge& c : charges) {
    if (!limited(c) || c.cost == 0) continue;
    text.push_back(key_name(c.key));
    ++n;
  }
  if (n == 0) return;
  text[0] = std::to_string(n);
  text.push_back(now_arg());
  for (const Charge& c : charges) {
    if (!limited(c) || c.cost == 0) continue;
    text.push_back(std::to_string(gcra_span(gcra_params(c.rate).interval, c.cost)));
  }
  const bool loaded = script_loaded();
  std::vector<std::string_view> args;
  args.reserve(text.size() + 3);
  args.push_back(loaded ? "EVALSHA" : "EVAL");
  args.push_back(loaded ? redis_gcra_script_sha1() : redis_gcra_script());
  for (std::size_t i = 0; i <= n; ++i) args.push_back(text[i]);
  args.push_back(op);
  for (std::size_t i = n + 1; i < text.size(); ++i) args.push_back(text[i]);
  if (!connection_->send(args, options_.dropped_updates) && options_.dropped_updates != nullptr) {
    options_.dropped_updates->fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace sluice::limit
