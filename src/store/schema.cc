#include "store/schema.h"

namespace sluice::store {

namespace {

// Version 1: keys, the usage ledger, and the keys' change counter.
//
// keys.seq orders keys by creation (ids are random). A name is unique among keys that are not
// revoked (a partial index), so a revoked key's name can be given to its replacement. Money is
// REAL (USD); limits are INTEGER; models and metadata are JSON text, read only by Sluice.
//
// meta.keys_version is bumped by triggers on every insert, update and delete of a key row, in
// the writer's own transaction, so any connection, in this process or another, sees that the
// keys changed by reading one row (KeyStore::version) instead of the whole table.
//
// The usage ledger is append-only; its index on time serves reports (version 2 drops the one on
// key and time).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (name, value) VALUES ('keys_version', 0);

CREATE TABLE keys (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  models TEXT NOT NULL DEFAULT '[]',
  rpm INTEGER NOT NULL DEFAULT 0,
  tpm INTEGER NOT NULL DEFAULT 0,
  max_concurrency INTEGER NOT NULL DEFAULT 0,
  budget_daily REAL NOT NULL DEFAULT 0,
  budget_monthly REAL NOT NULL DEFAULT 0,
  budget_total REAL NOT NULL DEFAULT 0,
  cache_namespace TEXT NOT NULL DEFAULT '',
  expires_at_ms INTEGER NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL DEFAULT '{}',
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX keys_active_name ON keys (name) WHERE revoked_at_ms = 0;

CREATE TRIGGER keys_inserted AFTER INSERT ON keys BEGIN
  UPDATE meta SET value = value + 1 WHERE name = 'keys_version';
END;
CREATE TRIGGER keys_updated AFTER UPDATE ON keys BEGIN
  UPDATE meta SET value = value + 1 WHERE name = 'keys_version';
END;
CREATE TRIGGER keys_deleted AFTER DELETE ON keys BEGIN
  UPDATE meta SET value = value + 1 WHERE name = 'keys_version';
END;

CREATE TABLE usage (
  seq INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  model TEXT NOT NULL,
  deployment TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  status INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  saved_usd REAL NOT NULL,
  latency_ms REAL NOT NULL,
  cache_result TEXT NOT NULL
);
CREATE INDEX usage_at ON usage (at_ms);
CREATE INDEX usage_key_at ON usage (key_id, at_ms);
)sql";

// Version 2: the ledger keeps one index. Every row written pays for every index (a B-tree
// insert each, the TEXT key_id one the dearest), and (key_id, at_ms) served no query that the
// time index does not: a report for one key scans its time range, and budgets' spend per key
// reads every row anyway.
constexpr std::string_view kV2 = R"sql(
DROP INDEX usage_key_at;
)sql";

// Version 3: the Batch API's files and batches (docs/batch.md, "Batch API on the server").
//
// A file's bytes live in <data_dir>/files/<id>; its row says whose it is and what it is. owner is
// the key id of the tenant that made it ('' when auth is off: one owner for everything), and
// every read is by owner and id, so a tenant never sees another's. seq orders lists (ids are
// random); the (owner, seq) indexes serve them. Times are unix seconds, as OpenAI's objects
// carry them; 0 stands for null. A batch's errors are the JSON text of its errors' `data`
// array ('' for none) and its metadata a JSON object's text ('' for null), read only by Sluice.
// The status index finds the batches to resume at startup without reading finished ones.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE files (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  filename TEXT NOT NULL,
  purpose TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX files_owner ON files (owner, seq);

CREATE TABLE batches (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  input_file_id TEXT NOT NULL,
  completion_window TEXT NOT NULL,
  status TEXT NOT NULL,
  output_file_id TEXT NOT NULL DEFAULT '',
  error_file_id TEXT NOT NULL DEFAULT '',
  errors TEXT NOT NULL DEFAULT '',
  metadata TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  in_progress_at INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL DEFAULT 0,
  finalizing_at INTEGER NOT NULL DEFAULT 0,
  completed_at INTEGER NOT NULL DEFAULT 0,
  failed_at INTEGER NOT NULL DEFAULT 0,
  expired_at INTEGER NOT NULL DEFAULT 0,
  cancelling_at INTEGER NOT NULL DEFAULT 0,
  cancelled_at INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX batches_owner ON batches (owner, seq);
CREATE INDEX batches_status ON batches (status);
)sql";

constexpr std::string_view kMigrations[] = {kV1, kV2, kV3};

}  // namespace

std::span<const std::string_view> migrations() { return kMigrations; }

}  // namespace sluice::store
