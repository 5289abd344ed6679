#include "gateway/tenants.h"

#include <openssl/crypto.h>

#include <cstring>

namespace sluice::gateway {

namespace {

std::uint64_t prefix_of(std::string_view hash) {
  std::uint64_t p = 0;
  std::memcpy(&p, hash.data(), std::min(hash.size(), sizeof p));
  return p;
}

// Whether two secrets of `n` bytes are the same, in time that depends only on n: a word at a time,
// where CRYPTO_memcmp goes a byte at a time (about 7 instructions a byte, on every request). The
// empty asm keeps the compiler from reasoning about `diff`, so it cannot stop at a difference.
bool same_bytes(const char* a, const char* b, std::size_t n) {
  std::uint64_t diff = 0;
  std::size_t i = 0;
  for (; i + sizeof diff <= n; i += sizeof diff) {
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, a + i, sizeof x);
    std::memcpy(&y, b + i, sizeof y);
    diff |= x ^ y;
    asm volatile("" : "+r"(diff));
  }
  for (; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    asm volatile("" : "+r"(diff));
  }
  return diff == 0;
}

TenantDirectory::Found status_at(const Tenant* t, std::int64_t now_unix_ms) {
  bool expired = t->key.expires_at_ms != 0 && now_unix_ms >= t->key.expires_at_ms;
  return {expired ? TenantDirectory::Found::Status::kExpired : TenantDirectory::Found::Status::kOk,
          t};
}

}  // namespace

TenantDirectory::TenantDirectory(limit::GcraLimiter* limiter)
    : limiter_(limiter), snapshot_(std::make_shared<const Snapshot>()) {}

void TenantDirectory::replace(std::vector<store::KeyRecord> keys) {
  auto next = std::make_shared<Snapshot>();
  std::unordered_map<std::string, std::shared_ptr<Tenant::Live>> live;
  std::lock_guard lock(mutex_);
  for (store::KeyRecord& key : keys) {
    if (key.revoked_at_ms != 0 || key.hash.size() != 32) continue;
    auto t = std::make_unique<Tenant>();
    auto it = live_.find(key.id);
    t->live = it != live_.end() ? it->second : std::make_shared<Tenant::Live>();
    live.emplace(key.id, t->live);
    t->cache_namespace = key.cache_namespace.empty() ? "key:" + key.id : key.cache_namespace;
    t->rpm_key = "k:" + key.id + ":r";
    t->tpm_key = "k:" + key.id + ":t";
    if (limiter_ != nullptr) {
      // By name, as Redis and the operations by name find them: the bucket an earlier snapshot
      // held, or the one a key that was never held (or just had its limit set) left in the map.
      if (key.rpm != 0) t->rpm_bucket = limiter_->bucket(t->rpm_key);
      if (key.tpm != 0) t->tpm_bucket = limiter_->bucket(t->tpm_key);
    }
    t->budget = limit::Budget{key.budget_daily, key.budget_monthly, key.budget_total};
    t->key = std::move(key);
    next->by_hash_prefix[prefix_of(t->key.hash)].push_back(t.get());
    next->by_id.emplace(t->key.id, t.get());
    next->tenants.push_back(std::move(t));
  }
  live_ = std::move(live);
  snapshot_ = std::move(next);
  version_.fetch_add(1, std::memory_order_release);
}

std::size_t TenantDirectory::size() const {
  std::lock_guard lock(mutex_);
  return snapshot_->tenants.size();
}

std::shared_ptr<const TenantDirectory::Snapshot> TenantDirectory::load() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

const std::shared_ptr<const TenantDirectory::Snapshot>& TenantDirectory::Reader::current() {
  std::uint64_t v = directory_.version();
  if (v != version_) {
    forget();
    snapshot_ = directory_.load();
    version_ = v;
  }
  return snapshot_;
}

TenantDirectory::Found TenantDirectory::Reader::find(std::string_view secret,
                                                     std::int64_t now_unix_ms) {
  if (!snapshot_ || secret.size() != kSecretSize) return {};
  // The last 8 characters are random base62 (a well-formed secret's): enough to spread the slots.
  std::uint64_t tail = 0;
  std::memcpy(&tail, secret.data() + secret.size() - sizeof tail, sizeof tail);
  Remembered& slot = memo_[(tail * 0x9E3779B97F4A7C15ull) >> 58];
  if (slot.tenant != nullptr && same_bytes(slot.secret.data(), secret.data(), kSecretSize)) {
    return status_at(slot.tenant, now_unix_ms);
  }
  Found found = TenantDirectory::find(*snapshot_, secret, now_unix_ms);
  if (found.tenant != nullptr) {
    std::memcpy(slot.secret.data(), secret.data(), kSecretSize);
    slot.tenant = found.tenant;
  }
  return found;
}

TenantDirectory::Found TenantDirectory::Reader::find_id(std::string_view key_id,
                                                        std::int64_t now_unix_ms) const {
  if (!snapshot_) return {};
  return TenantDirectory::find_id(*snapshot_, key_id, now_unix_ms);
}

void TenantDirectory::Reader::forget() {
  for (Remembered& r : memo_) {
    if (r.tenant == nullptr) continue;
    OPENSSL_cleanse(r.secret.data(), r.secret.size());
    r.tenant = nullptr;
  }
}

TenantDirectory::Found TenantDirectory::find(const Snapshot& snapshot, std::string_view secret,
                                             std::int64_t now_unix_ms) {
  Found found;
  if (!store::well_formed_secret(secret)) return found;
  std::string hash = store::secret_hash(secret);
  auto it = snapshot.by_hash_prefix.find(prefix_of(hash));
  if (it == snapshot.by_hash_prefix.end()) return found;
  for (const Tenant* t : it->second) {
    if (CRYPTO_memcmp(t->key.hash.data(), hash.data(), hash.size()) != 0) continue;
    return status_at(t, now_unix_ms);
  }
  return found;
}

TenantDirectory::Found TenantDirectory::find_id(const Snapshot& snapshot, std::string_view key_id,
                                                std::int64_t now_unix_ms) {
  auto it = snapshot.by_id.find(std::string(key_id));
  if (it == snapshot.by_id.end()) return {};
  return status_at(it->second, now_unix_ms);
}

}  // namespace sluice::gateway
