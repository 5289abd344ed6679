// The control-plane schema as numbered migrations. Migration i (0-based) takes a database from
// schema version i to i + 1; the version lives in SQLite's PRAGMA user_version, so a fresh file
// is version 0. Database::open runs the missing ones in order, each in its own transaction.
//
// Rules for whoever adds one: append, never edit a migration that has shipped (databases in the
// field already ran it); each must be correct on every database at the previous version.
//
// Thread safety: constant data.
#pragma once

#include <span>
#include <string_view>

namespace sluice::store {

std::span<const std::string_view> migrations();

// The version this build writes and understands: migrations().size().
inline int latest_schema_version() { return static_cast<int>(migrations().size()); }

}  // namespace sluice::store
