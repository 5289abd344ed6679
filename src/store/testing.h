// Helpers for the store's unit tests: the shared scratch directory and coroutine runner, and
// where a test's database lives in it.
#pragma once

#include <string>

#include "support/await.h"
#include "support/temp_dir.h"

namespace sluice::store::testing {

using sluice::testing::await;
using sluice::testing::TempDir;

inline std::string db_path(const TempDir& dir) { return dir.file("sluice.db").string(); }

}  // namespace sluice::store::testing
