#include "cache/redis_tier.h"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include <optional>
#include <stdexcept>

#include "cache/entry_codec.h"

namespace sluice::cache {

namespace {

using net::RedisConnection;
using net::RedisEndpoint;
using net::RedisHealth;
using net::RedisReply;
using Type = RedisReply::Type;
using namespace std::chrono_literals;

// A SCAN or UNLINK step of clear() may be slow on a large database; it is not on a request.
constexpr std::chrono::milliseconds kClearStepTimeout = 5s;
constexpr std::string_view kScanCount = "1000";
// Entries larger than this are refused even if another instance (with a larger
// cache.max_entry_bytes) stored them: a guard against decompressing a huge body, not a policy.
constexpr std::size_t kMinBodyLimit = 64u << 20;

// `text` with Redis glob characters escaped, for a MATCH pattern.
std::string glob_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::uint64_t load(const std::atomic<std::uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}
void bump(std::atomic<std::uint64_t>& a) { a.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

struct RedisTier::Slot {
  asio::execution_context* context = nullptr;
  std::optional<asio::io_context::executor_type> io;
  std::shared_ptr<RedisConnection> connection;
  // Written on the slot's worker only (relaxed), read by stats() from anywhere; a slot per
  // worker keeps workers from sharing the cache lines.
  alignas(64) std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> bypassed{0};
  std::atomic<std::uint64_t> corrupt{0};
  std::atomic<std::uint64_t> stores{0};
  std::atomic<std::uint64_t> dropped_stores{0};
  std::atomic<std::uint64_t> store_errors{0};
};

RedisTier::RedisTier(const config::Cache& config, const core::Clock& clock,
                     RedisConnection::Options tuning)
    : clock_(clock),
      prefix_(config.redis.key_prefix),
      timeout_(std::chrono::duration_cast<std::chrono::milliseconds>(config.redis.timeout)),
      max_body_bytes_(std::max<std::size_t>(config.max_entry_bytes, kMinBodyLimit)),
      options_(std::move(tuning)) {
  auto endpoint = RedisEndpoint::parse(config.redis.url);
  if (!endpoint) throw std::invalid_argument("cache.redis.url: " + endpoint.error().message);
  options_.endpoint = std::move(*endpoint);
  health_ =
      std::make_shared<RedisHealth>("redis cache tier", options_.endpoint.describe(),
                                    "lookups skip Redis and stores are dropped until it is back");
}

RedisTier::~RedisTier() {
  for (auto& slot : owned_) slot->connection->close();
}

std::string RedisTier::key_name(std::string_view prefix, std::string_view ns, const Key& key) {
  std::string name;
  name.reserve(prefix.size() + ns.size() + 42);
  name += prefix;
  name += "cache:v1:";
  name += ns;
  name += ':';
  name += key.hex();
  return name;
}

void RedisTier::attach_worker(asio::any_io_executor worker) {
  auto* io = worker.target<asio::io_context::executor_type>();
  auto* context = &asio::query(worker, asio::execution::context_as<asio::execution_context&>);
  std::lock_guard lock(attach_mutex_);
  const std::size_t n = slot_count_.load(std::memory_order_relaxed);
  if (find(worker) != nullptr) return;
  if (io == nullptr || n == kMaxWorkers) {
    spdlog::warn("redis cache tier: a worker could not be attached ({}); its lookups skip Redis",
                 io == nullptr ? "not an io_context" : "too many workers");
    return;
  }
  auto slot = std::make_unique<Slot>();
  slot->context = context;
  slot->io.emplace(*io);
  slot->connection = std::make_shared<RedisConnection>(worker, options_, health_);
  health_->add_connection();
  // The connection starts on its own thread, before the worker serves its first request.
  asio::post(worker, [c = slot->connection] { c->start(); });
  slots_[n] = slot.get();
  owned_.push_back(std::move(slot));
  slot_count_.store(n + 1, std::memory_order_release);
}

void RedisTier::detach_worker(asio::any_io_executor worker) {
  if (Slot* slot = find(worker)) slot->connection->close();
}

RedisTier::Slot* RedisTier::find(const asio::any_io_executor& executor) const {
  auto* context = &asio::query(executor, asio::execution::context_as<asio::execution_context&>);
  const std::size_t n = slot_count_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    if (slots_[i]->context == context) return slots_[i];
  }
  return nullptr;
}

RedisTier::Slot* RedisTier::on_this_thread() const {
  const std::size_t n = slot_count_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    if (slots_[i]->io->running_in_this_thread()) return slots_[i];
  }
  return nullptr;
}

asio::awaitable<EntryPtr> RedisTier::lookup(std::string_view ns, const Key& key) {
  Slot* slot = find(co_await asio::this_coro::executor);
  if (slot == nullptr) {
    bump(unattached_);
    co_return nullptr;
  }
  RedisConnection& connection = *slot->connection;
  if (!connection.ready()) {  // down: no command, no coroutine frame, no wait
    bump(slot->bypassed);
    bump(slot->misses);
    co_return nullptr;
  }
  const std::string name = key_name(prefix_, ns, key);
  const std::string_view get[] = {"GET", name};
  RedisReply reply = co_await connection.call(get, timeout_);
  switch (reply.type) {
    case Type::kString:
      break;
    case Type::kNil:
      bump(slot->misses);
      co_return nullptr;
    case Type::kTimeout:
      bump(slot->timeouts);
      bump(slot->misses);
      co_return nullptr;
    case Type::kNotSent:
      bump(slot->bypassed);
      bump(slot->misses);
      co_return nullptr;
    default:  // an error reply, a lost connection, a reply of the wrong type
      bump(slot->errors);
      bump(slot->misses);
      co_return nullptr;
  }
  auto entry = decode_entry(reply.str, max_body_bytes_);
  if (!entry) {
    // Never served, and deleted so the next store replaces it.
    spdlog::debug("redis cache tier: {}: {}; deleted", name, entry.error().message);
    bump(slot->corrupt);
    bump(slot->misses);
    const std::string_view del[] = {"DEL", name};
    connection.send(del);
    co_return nullptr;
  }
  if (entry->expired(clock_.unix_ms())) {
    bump(slot->misses);
    co_return nullptr;
  }
  bump(slot->hits);
  co_return std::make_shared<const Entry>(std::move(*entry));
}

void RedisTier::store(const Key& key, EntryPtr entry) {
  if (!entry) return;
  Slot* slot = on_this_thread();
  if (slot == nullptr) {
    // Not on a worker: hand it to one, round robin.
    const std::size_t n = slot_count_.load(std::memory_order_acquire);
    if (n == 0) return;
    slot = slots_[next_foreign_.fetch_add(1, std::memory_order_relaxed) % n];
  }
  // Encoding (zstd) and the write run after the current handler: the pipeline stores an answer
  // just before it writes the response, which should not wait for either.
  asio::post(slot->connection->executor(),
             [this, slot, key, entry = std::move(entry)] { write(*slot, key, *entry); });
}

void RedisTier::write(Slot& slot, const Key& key, const Entry& entry) {
  const std::int64_t ttl_ms = entry.expires_ms - clock_.unix_ms();
  if (ttl_ms <= 0) return;  // already dead: nothing to share
  if (!slot.connection->ready()) {
    bump(slot.dropped_stores);
    return;
  }
  const std::string value = encode_entry(entry);
  const std::string name = key_name(prefix_, entry.ns, key);
  const std::string px = std::to_string(ttl_ms);
  if (slot.connection->send({"SET", name, value, "PX", px}, &slot.store_errors)) {
    bump(slot.stores);
  } else {
    bump(slot.dropped_stores);
  }
}

asio::awaitable<void> RedisTier::clear(std::string_view ns) {
  Slot* slot = find(co_await asio::this_coro::executor);
  if (slot == nullptr) {
    spdlog::warn("redis cache tier: clear called off a worker; Redis was not cleared");
    co_return;
  }
  // A namespace's keys end in exactly 32 hex digits, so `?` x 32 rather than `*`: namespace "a"
  // must not match the keys of namespace "a:b".
  std::string pattern = glob_escape(prefix_) + "cache:v1:";
  pattern += ns.empty() ? std::string("*") : glob_escape(ns) + ":" + std::string(32, '?');
  std::string cursor = "0";
  std::uint64_t removed = 0;
  auto give_up = [&](std::string_view step, const RedisReply& r) {
    spdlog::warn("redis cache tier: clear{}{} gave up after {} keys: {} {}", ns.empty() ? "" : " ",
                 ns, removed, step,
                 r.type == Type::kError     ? r.str
                 : r.type == Type::kTimeout ? std::string("timed out")
                 : r.type == Type::kNotSent ? std::string("not connected")
                                            : std::string("failed"));
  };
  do {
    const std::string_view scan[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", kScanCount};
    RedisReply page = co_await slot->connection->call(scan, kClearStepTimeout);
    if (page.type != Type::kArray || page.elements.size() != 2 ||
        page.elements[0].type != Type::kString || page.elements[1].type != Type::kArray) {
      give_up("SCAN", page);
      co_return;
    }
    cursor = page.elements[0].str;
    const auto& keys = page.elements[1].elements;
    if (keys.empty()) continue;
    std::vector<std::string_view> args;
    args.reserve(keys.size() + 1);
    args.push_back("UNLINK");
    for (const auto& k : keys) args.push_back(k.str);
    RedisReply unlinked = co_await slot->connection->call(args, kClearStepTimeout);
    if (unlinked.type != Type::kInteger) {
      give_up("UNLINK", unlinked);
      co_return;
    }
    removed += static_cast<std::uint64_t>(unlinked.integer);
  } while (cursor != "0");
  spdlog::info("redis cache tier: cleared {} entr{}{}{}", removed, removed == 1 ? "y" : "ies",
               ns.empty() ? "" : " of namespace ", ns);
}

json::object RedisTier::stats() const {
  std::uint64_t hits = 0, misses = 0, timeouts = 0, errors = 0, bypassed = load(unattached_),
                corrupt = 0, stores = 0, dropped = 0, store_errors = 0, reconnects = 0,
                connect_errors = 0;
  misses += bypassed;
  const std::size_t n = slot_count_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    const Slot& s = *slots_[i];
    hits += load(s.hits);
    misses += load(s.misses);
    timeouts += load(s.timeouts);
    errors += load(s.errors);
    bypassed += load(s.bypassed);
    corrupt += load(s.corrupt);
    stores += load(s.stores);
    dropped += load(s.dropped_stores);
    store_errors += load(s.store_errors);
    reconnects += load(s.connection->counters().reconnects);
    connect_errors += load(s.connection->counters().connect_errors);
  }
  const std::uint64_t lookups = hits + misses;
  json::object o;
  o["server"] = options_.endpoint.describe();
  o["connected"] = health_->connected();
  o["connections"] = health_->connections();
  // Redis is shared with other gateways (and maybe other users); counting this tier's keys would
  // take a SCAN of the whole keyspace, so these are unknown rather than wrong.
  o["entries"] = nullptr;
  o["bytes"] = nullptr;
  o["timeout_ms"] = timeout_.count();
  o["hits"] = hits;
  o["misses"] = misses;
  o["hit_rate"] = lookups ? static_cast<double>(hits) / static_cast<double>(lookups) : 0.0;
  o["timeouts"] = timeouts;
  o["errors"] = errors;
  o["bypassed"] = bypassed;
  o["corrupt"] = corrupt;
  o["stores"] = stores;
  o["dropped_stores"] = dropped;
  o["store_errors"] = store_errors;
  o["reconnects"] = reconnects;
  o["connect_errors"] = connect_errors;
  return o;
}

std::unique_ptr<LowerTier> make_redis_tier(const config::Cache& config, const core::Clock& clock) {
  return std::make_unique<RedisTier>(config, clock);
}

}  // namespace sluice::cache
