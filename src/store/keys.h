// Virtual keys (docs/keys-and-limits.md, "Keys"): what a key is (KeyRecord), how the admin API's
// JSON becomes a change to one (parse_key_spec) and how a key is shown (key_json), the secrets
// themselves, and KeyStore, the keys table of the control-plane database.
//
// A secret is "sk-sluice-" and 40 base62 characters (238 random bits). It is shown once, when the
// key is created; the database keeps only its SHA-256 and its first 14 characters (the prefix,
// which says which key it is in lists without giving it away). The gateway finds a caller's key
// by hashing the bearer token and comparing hashes (same_hash, constant time).
//
// The free functions are pure and thread-safe. KeyStore follows Database's rule: one thread at a
// time (in the gateway, ControlPlane's store thread).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/database.h"

namespace sluice::store {

struct KeyRecord {
  std::string id;                   // public id, "key_" + 16 hex chars (random)
  std::string name;                 // unique among keys that are not revoked
  std::string hash;                 // the 32 raw bytes of SHA-256(secret); never shown
  std::string prefix;               // the secret's first 14 characters, for display
  std::vector<std::string> models;  // globs ('*' anywhere, '?' one char); empty = every model
  std::uint64_t rpm = 0, tpm = 0;   // 0 = unlimited
  int max_concurrency = 0;          // 0 = unlimited
  double budget_daily = 0, budget_monthly = 0, budget_total = 0;  // USD; 0 = none
  std::string cache_namespace;     // empty = the key's own (its id); otherwise a shared name
  std::int64_t expires_at_ms = 0;  // unix ms; 0 = never
  boost::json::object metadata;
  std::int64_t created_at_ms = 0;
  std::int64_t revoked_at_ms = 0;  // 0 = active
};

// What a create or a patch sets; nullopt = not given.
struct KeySpec {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> models;
  std::optional<std::uint64_t> rpm, tpm;
  std::optional<int> max_concurrency;
  std::optional<double> budget_daily, budget_monthly, budget_total;
  std::optional<std::string> cache_namespace;  // "" = the key's own again
  std::optional<std::int64_t> expires_at_ms;   // 0 clears
  std::optional<boost::json::object> metadata;
};

enum class SpecMode { kCreate, kPatch };

// Bounds parse_key_spec enforces.
inline constexpr std::size_t kMaxNameBytes = 100;
inline constexpr std::size_t kMaxNamespaceBytes = 100;
inline constexpr std::size_t kMaxModelPatterns = 256;
inline constexpr std::size_t kMaxPatternBytes = 256;
inline constexpr std::size_t kMaxMetadataBytes = 16 * 1024;  // serialized

// The admin API's body -> spec. JSON fields: name, models (array of strings), rpm, tpm,
// max_concurrency, budget {daily, monthly, total} (numbers >= 0), cache_namespace (string, or
// null for the key's own), expires_at (unix seconds, or null to clear), metadata (object).
// Unknown fields, wrong types, negative or non-integer limits, empty or over-long names, bad
// globs -> Errc::kInvalidRequest with a message naming the field and Error::param set to it
// ("budget.daily"). kCreate requires name. An expires_at in the past is accepted: the key is
// expired at once (useful to disable a key without revoking it).
core::Result<KeySpec> parse_key_spec(const boost::json::value& body, SpecMode mode);

// The admin API's view of a key: {"id","object":"sluice.key","name","prefix","models","rpm",
// "tpm","max_concurrency","budget":{"daily","monthly","total"},"cache_namespace"(or null for the
// key's own),"expires_at"(unix s or null),"metadata","created_at","revoked_at"(or null)} -- never
// the hash.
boost::json::object key_json(const KeyRecord& key);

inline constexpr std::string_view kSecretPrefix = "sk-sluice-";
inline constexpr std::size_t kSecretRandomChars = 40;
inline constexpr std::size_t kSecretDisplayChars = 14;

// "sk-sluice-" + 40 base62 characters from OpenSSL's RAND_bytes. Throws std::runtime_error in
// the unheard-of case that RAND_bytes fails (no entropy); KeyStore::create reports that as an
// error instead.
std::string new_secret();
// The prefix, the length and the alphabet; says nothing about whether the key exists.
bool well_formed_secret(std::string_view text);
// SHA-256 of the secret, 32 raw bytes.
std::string secret_hash(std::string_view secret);
// Compares two hashes in constant time (CRYPTO_memcmp); false when the lengths differ.
bool same_hash(std::string_view a, std::string_view b);
// Whether the key may use `model`: one of its globs matches the whole name ('*' any run of
// characters, '?' one character; case-sensitive, as model names are). No globs: every model.
bool model_allowed(const KeyRecord& key, std::string_view model);
bool glob_matches(std::string_view pattern, std::string_view text);

class KeyStore {
 public:
  explicit KeyStore(Database& db) : db_(db) {}

  struct Created {
    KeyRecord key;
    std::string secret;  // shown once, never stored
  };
  // Missing or duplicate name (among keys not revoked) -> 400, param "name".
  core::Result<Created> create(const KeySpec& spec, std::int64_t now_ms);
  // Unknown id -> Errc::kNotFound.
  core::Result<KeyRecord> get(std::string_view id);
  // Every key, revoked ones included, oldest first. Empty when the database cannot be read
  // (logged); try_list says why.
  std::vector<KeyRecord> list();
  core::Result<std::vector<KeyRecord>> try_list();
  // Unknown id -> 404; a revoked key -> 400 (it exists, but can no longer change); a name that
  // another active key has -> 400, param "name".
  core::Result<KeyRecord> update(std::string_view id, const KeySpec& patch);
  // Unknown id -> 404. Revoking a revoked key changes nothing and returns it.
  core::Result<KeyRecord> revoke(std::string_view id, std::int64_t now_ms);
  // The keys not revoked, oldest first (expiry is checked by the caller). Empty when the
  // database cannot be read (logged); prefer snapshot(), which says so.
  std::vector<KeyRecord> active();
  // Changes whenever any key row changes, in this or another process (a counter bumped by
  // triggers on the keys table). -1 when it cannot be read (logged).
  std::int64_t version();
  core::Result<std::int64_t> try_version();

  // The active keys and the version they belong to, read in one transaction, so a change that
  // commits between the two reads is never missed.
  struct Snapshot {
    std::int64_t version = 0;
    std::vector<KeyRecord> keys;
  };
  core::Result<Snapshot> snapshot();

 private:
  core::Result<std::vector<KeyRecord>> select(std::string_view where, std::string_view id = {});
  core::Result<bool> name_taken(const std::string& name, std::string_view except_id);

  Database& db_;
};

}  // namespace sluice::store
