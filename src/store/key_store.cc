// KeyStore: the keys table (keys.h, schema.cc).
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <array>

#include "core/asio.h"
#include "store/keys.h"

namespace sluice::store {

namespace {

constexpr std::string_view kColumns =
    "id, name, hash, prefix, models, rpm, tpm, max_concurrency, budget_daily, budget_monthly, "
    "budget_total, cache_namespace, expires_at_ms, metadata, created_at_ms, revoked_at_ms";

core::Error not_found(std::string_view id) {
  return core::Error(core::Errc::kNotFound, "no key with id \"" + std::string(id) + "\"", "id");
}

core::Error name_in_use(const std::string& name) {
  return core::Error(core::Errc::kInvalidRequest,
                     "name \"" + name +
                         "\" is taken by another key (names are unique among keys "
                         "that are not revoked)",
                     "name");
}

std::optional<std::string> random_id() {
  std::array<unsigned char, 8> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "key_";
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 15]);
  }
  return id;
}

// models and metadata are JSON text that only Sluice writes; a value that does not parse (a hand
// edit) reads as empty rather than failing every key.
std::vector<std::string> read_models(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& m : v.get_array()) {
    if (m.is_string()) out.emplace_back(m.get_string());
  }
  return out;
}

json::object read_object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

std::string models_text(const std::vector<std::string>& models) {
  json::array a;
  for (const auto& m : models) a.emplace_back(m);
  return json::serialize(a);
}

KeyRecord read_key(const Statement& s) {
  KeyRecord k;
  k.id = s.column_text(0);
  k.name = s.column_text(1);
  k.hash = s.column_blob(2);
  k.prefix = s.column_text(3);
  k.models = read_models(s.column_text(4));
  k.rpm = static_cast<std::uint64_t>(s.column_int(5));
  k.tpm = static_cast<std::uint64_t>(s.column_int(6));
  k.max_concurrency = static_cast<int>(s.column_int(7));
  k.budget_daily = s.column_real(8);
  k.budget_monthly = s.column_real(9);
  k.budget_total = s.column_real(10);
  k.cache_namespace = s.column_text(11);
  k.expires_at_ms = s.column_int(12);
  k.metadata = read_object(s.column_text(13));
  k.created_at_ms = s.column_int(14);
  k.revoked_at_ms = s.column_int(15);
  return k;
}

void apply(const KeySpec& spec, KeyRecord& k) {
  if (spec.name) k.name = *spec.name;
  if (spec.models) k.models = *spec.models;
  if (spec.rpm) k.rpm = *spec.rpm;
  if (spec.tpm) k.tpm = *spec.tpm;
  if (spec.max_concurrency) k.max_concurrency = *spec.max_concurrency;
  if (spec.budget_daily) k.budget_daily = *spec.budget_daily;
  if (spec.budget_monthly) k.budget_monthly = *spec.budget_monthly;
  if (spec.budget_total) k.budget_total = *spec.budget_total;
  if (spec.cache_namespace) k.cache_namespace = *spec.cache_namespace;
  if (spec.expires_at_ms) k.expires_at_ms = *spec.expires_at_ms;
  if (spec.metadata) k.metadata = *spec.metadata;
}

// Binds the settable columns as ?1..?11, in the order of kSettable.
constexpr std::string_view kSettable =
    "name, models, rpm, tpm, max_concurrency, budget_daily, budget_monthly, budget_total, "
    "cache_namespace, expires_at_ms, metadata";

void bind_settable(Statement& s, const KeyRecord& k) {
  s.bind_text(1, k.name)
      .bind_text(2, models_text(k.models))
      .bind_int(3, static_cast<std::int64_t>(k.rpm))
      .bind_int(4, static_cast<std::int64_t>(k.tpm))
      .bind_int(5, k.max_concurrency)
      .bind_real(6, k.budget_daily)
      .bind_real(7, k.budget_monthly)
      .bind_real(8, k.budget_total)
      .bind_text(9, k.cache_namespace)
      .bind_int(10, k.expires_at_ms)
      .bind_text(11, json::serialize(k.metadata));
}

}  // namespace

core::Result<std::vector<KeyRecord>> KeyStore::select(std::string_view where, std::string_view id) {
  std::string sql =
      "SELECT " + std::string(kColumns) + " FROM keys " + std::string(where) + " ORDER BY seq";
  auto stmt = db_.prepare(sql);
  if (!stmt) return stmt.error();
  if (!id.empty()) stmt->bind_text(1, id);
  std::vector<KeyRecord> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(read_key(*stmt));
  }
  return out;
}

core::Result<bool> KeyStore::name_taken(const std::string& name, std::string_view except_id) {
  auto stmt = db_.prepare("SELECT 1 FROM keys WHERE name = ?1 AND revoked_at_ms = 0 AND id != ?2");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, name).bind_text(2, except_id);
  return stmt->step();
}

core::Result<KeyStore::Created> KeyStore::create(const KeySpec& spec, std::int64_t now_ms) {
  if (!spec.name || spec.name->empty()) {
    return core::Error(core::Errc::kInvalidRequest, "name is required", "name");
  }
  Created c;
  auto id = random_id();
  try {
    c.secret = new_secret();
  } catch (const std::exception&) {
    id.reset();
  }
  if (!id) return core::Error(core::Errc::kInternal, "no randomness available to make a key");
  c.key.id = std::move(*id);
  c.key.hash = secret_hash(c.secret);
  c.key.prefix = c.secret.substr(0, kSecretDisplayChars);
  c.key.created_at_ms = now_ms;
  apply(spec, c.key);

  auto tx = Transaction::begin(db_, Transaction::Kind::kWrite);
  if (!tx) return tx.error();
  auto taken = name_taken(c.key.name, "");
  if (!taken) return taken.error();
  if (*taken) return name_in_use(c.key.name);
  auto stmt = db_.prepare("INSERT INTO keys (" + std::string(kSettable) +
                          ", id, hash, prefix, created_at_ms) VALUES "
                          "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  if (!stmt) return stmt.error();
  bind_settable(*stmt, c.key);
  stmt->bind_text(12, c.key.id)
      .bind_blob(13, c.key.hash)
      .bind_text(14, c.key.prefix)
      .bind_int(15, c.key.created_at_ms);
  if (auto r = stmt->run(); !r) return r.error();
  if (auto r = tx->commit(); !r) return r.error();
  return c;
}

core::Result<KeyRecord> KeyStore::get(std::string_view id) {
  auto keys = select("WHERE id = ?1", id);
  if (!keys) return keys.error();
  if (keys->empty()) return not_found(id);
  return std::move(keys->front());
}

std::vector<KeyRecord> KeyStore::list() {
  auto keys = try_list();
  if (!keys) {
    spdlog::warn("cannot list keys: {}", keys.error().message);
    return {};
  }
  return std::move(*keys);
}

core::Result<std::vector<KeyRecord>> KeyStore::try_list() { return select(""); }

core::Result<KeyRecord> KeyStore::update(std::string_view id, const KeySpec& patch) {
  auto tx = Transaction::begin(db_, Transaction::Kind::kWrite);
  if (!tx) return tx.error();
  auto key = get(id);
  if (!key) return key.error();
  if (key->revoked_at_ms != 0) {
    return core::Error(core::Errc::kInvalidRequest,
                       "key " + key->id + " is revoked and can no longer be changed");
  }
  if (patch.name && *patch.name != key->name) {
    auto taken = name_taken(*patch.name, key->id);
    if (!taken) return taken.error();
    if (*taken) return name_in_use(*patch.name);
  }
  apply(patch, *key);
  auto stmt = db_.prepare("UPDATE keys SET (" + std::string(kSettable) +
                          ") = (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) WHERE id = ?12");
  if (!stmt) return stmt.error();
  bind_settable(*stmt, *key);
  stmt->bind_text(12, key->id);
  if (auto r = stmt->run(); !r) return r.error();
  if (auto r = tx->commit(); !r) return r.error();
  return key;
}

core::Result<KeyRecord> KeyStore::revoke(std::string_view id, std::int64_t now_ms) {
  auto tx = Transaction::begin(db_, Transaction::Kind::kWrite);
  if (!tx) return tx.error();
  auto key = get(id);
  if (!key) return key.error();
  if (key->revoked_at_ms != 0) return key;
  // 0 means active, so a clock at the epoch still revokes.
  key->revoked_at_ms = now_ms > 0 ? now_ms : 1;
  auto stmt = db_.prepare("UPDATE keys SET revoked_at_ms = ?1 WHERE id = ?2");
  if (!stmt) return stmt.error();
  stmt->bind_int(1, key->revoked_at_ms).bind_text(2, key->id);
  if (auto r = stmt->run(); !r) return r.error();
  if (auto r = tx->commit(); !r) return r.error();
  return key;
}

std::vector<KeyRecord> KeyStore::active() {
  auto keys = select("WHERE revoked_at_ms = 0");
  if (!keys) {
    spdlog::warn("cannot read the active keys: {}", keys.error().message);
    return {};
  }
  return std::move(*keys);
}

std::int64_t KeyStore::version() {
  auto v = try_version();
  if (!v) {
    spdlog::warn("cannot read the keys' version: {}", v.error().message);
    return -1;
  }
  return *v;
}

core::Result<std::int64_t> KeyStore::try_version() {
  auto stmt = db_.prepare("SELECT value FROM meta WHERE name = 'keys_version'");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return core::Error(core::Errc::kInternal, "the meta table has no keys_version");
  return stmt->column_int(0);
}

core::Result<KeyStore::Snapshot> KeyStore::snapshot() {
  auto tx = Transaction::begin(db_, Transaction::Kind::kRead);
  if (!tx) return tx.error();
  Snapshot s;
  auto v = try_version();
  if (!v) return v.error();
  s.version = *v;
  auto keys = select("WHERE revoked_at_ms = 0");
  if (!keys) return keys.error();
  s.keys = std::move(*keys);
  if (auto r = tx->commit(); !r) return r.error();
  return s;
}

}  // namespace sluice::store
