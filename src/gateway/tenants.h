// The keys a running gateway accepts (DESIGN.md, stage 3, "Authenticate"): each active virtual
// key as a Tenant, with what the later stages need precomputed (its cache namespace, its limiter
// keys and local buckets, its budget) and its live state (requests in flight), which survives a
// refresh of the key list so a revocation or an edit never resets a counter. The buckets are
// looked up by name at every refresh, so a key keeps its rate-limit state across refreshes too.
//
// The control plane calls replace() on its own thread whenever the keys change (within its poll
// interval, so revocations take effect within a second, even when another process made them).
// Workers read through a per-worker Reader: one relaxed load of the version per request, and a
// locked copy of the snapshot only after a change, so lookups share no lock and no cache line that
// writers touch.
//
// A key is found by its SHA-256: the first 8 bytes pick the candidates, and the whole hash is
// compared with CRYPTO_memcmp (constant time), so the lookup's timing says nothing about how much
// of a guessed key was right. Each Reader remembers the secrets it recently found (64 slots,
// picked by the secret's last random characters), so a client calling again with the same key,
// as clients do, is recognised by one constant-time comparison of the secret (a word at a time)
// instead of a SHA-256; the memory is cleared whenever the key list changes, so a revoked key is
// never recognised from it. Unknown secrets are not remembered.
//
// Thread safety: replace() and version() from any thread; a Reader on one thread only; Tenants
// are immutable except for what `live` and the buckets point to, which is atomics (GcraBucket's
// operations are lock-free and safe from any worker).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "limit/budget.h"
#include "limit/gcra.h"
#include "store/keys.h"

namespace sluice::gateway {

struct Tenant {
  struct Live {
    std::atomic<int> in_flight{0};
  };

  store::KeyRecord key;
  std::string cache_namespace;  // the key's own ("key:<id>") unless it names a shared one
  std::string rpm_key;          // the limiter's keys for this tenant's requests and tokens
  std::string tpm_key;
  // The local limiter's buckets by those names, resolved once per refresh so the admit stage
  // charges them without a lookup. Null where the key sets no such limit, or without a limiter.
  std::shared_ptr<limit::GcraBucket> rpm_bucket;
  std::shared_ptr<limit::GcraBucket> tpm_bucket;
  limit::Budget budget;
  std::shared_ptr<Live> live;
};

// The keys as of one change.
struct TenantSnapshot {
  std::vector<std::unique_ptr<const Tenant>> tenants;
  std::unordered_map<std::uint64_t, std::vector<const Tenant*>> by_hash_prefix;
  // By key id, for the requests the server's batch jobs send on their owner's behalf.
  std::unordered_map<std::string, const Tenant*> by_id;
};

class TenantDirectory {
 public:
  using Snapshot = TenantSnapshot;

  // What a lookup found.
  struct Found {
    enum class Status { kOk, kUnknown, kExpired };
    Status status = Status::kUnknown;
    const Tenant* tenant = nullptr;  // kOk and kExpired
  };

  class Reader {
   public:
    explicit Reader(const TenantDirectory& directory) : directory_(directory) {}
    // The current snapshot (kept alive by the caller for as long as it uses a Tenant of it).
    const std::shared_ptr<const Snapshot>& current();
    // TenantDirectory::find in the snapshot current() last returned, through this reader's memory
    // of recent secrets.
    Found find(std::string_view secret, std::int64_t now_unix_ms);
    // TenantDirectory::find_id in the snapshot current() last returned.
    Found find_id(std::string_view key_id, std::int64_t now_unix_ms) const;

   private:
    static constexpr std::size_t kSecretSize =
        store::kSecretPrefix.size() + store::kSecretRandomChars;
    struct Remembered {
      std::array<char, kSecretSize> secret{};
      const Tenant* tenant = nullptr;  // null: the slot is empty
    };
    void forget();

    const TenantDirectory& directory_;
    std::uint64_t version_ = ~std::uint64_t{0};
    std::shared_ptr<const Snapshot> snapshot_;
    std::array<Remembered, 64> memo_;
  };

  // `limiter`, when given, is the local limiter whose buckets the tenants hold (it must outlive
  // replace() calls; the buckets themselves are shared, so they outlive nothing).
  explicit TenantDirectory(limit::GcraLimiter* limiter = nullptr);

  // Every key that is not revoked (expired ones included: they answer "expired", not "unknown").
  void replace(std::vector<store::KeyRecord> keys);
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::size_t size() const;

  // The tenant whose secret is `secret`, checked against its expiry at `now_unix_ms`.
  static Found find(const Snapshot& snapshot, std::string_view secret, std::int64_t now_unix_ms);
  // The tenant whose key id is `key_id` (a batch's owner), checked against its expiry. A revoked
  // key is not in the snapshot: unknown.
  static Found find_id(const Snapshot& snapshot, std::string_view key_id, std::int64_t now_unix_ms);

 private:
  std::shared_ptr<const Snapshot> load() const;

  limit::GcraLimiter* const limiter_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_;
  // Live state by key id, carried from one snapshot to the next.
  std::unordered_map<std::string, std::shared_ptr<Tenant::Live>> live_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace sluice::gateway
