// Helpers for the store's unit tests only: a scratch directory for real SQLite files, and a way
// to run a coroutine to completion from a test.
#pragma once

#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "core/asio.h"

namespace sluice::store::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string db() const { return (path_ / "sluice.db").string(); }

 private:
  std::filesystem::path path_;
};

// Runs a coroutine to completion on a private event loop.
template <class T>
T await(asio::awaitable<T> a) {
  asio::io_context ioc;
  auto f = asio::co_spawn(ioc, std::move(a), asio::use_future);
  ioc.run();
  return f.get();
}

}  // namespace sluice::store::testing
