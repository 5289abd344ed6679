// Small string helpers used across modules: ASCII case-insensitive comparison, trimming, and the
// parsers for the human-friendly units in configuration ("250ms", "16MiB").
//
// All functions are pure and thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::core {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s);
// "a, b,c" → {"a", "b", "c"}: the pieces between `sep`s, each trimmed; "" gives none, "a,,b" an
// empty piece between.
std::vector<std::string_view> split_trimmed(std::string_view s, char sep);

// "1500" (milliseconds are not assumed: a bare number is seconds), "250ms", "10s", "5m", "1h",
// "1.5s". Returns nullopt for anything else, including negative values.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// "1024", "64KiB", "16MiB", "1GiB", "10KB" (decimal), "2MB". Returns nullopt when malformed or
// when the value does not fit in 64 bits.
std::optional<std::uint64_t> parse_bytes(std::string_view text);

// Human form for messages and logs: "16MiB", "1.5s".
std::string format_bytes(std::uint64_t bytes);
std::string format_duration(std::chrono::milliseconds d);

// Matches `name` against a pattern in which a single trailing '*' matches any suffix
// ("x-mock-*", "gpt-*", "*"). Case-sensitive unless `icase`.
bool glob_match(std::string_view pattern, std::string_view name, bool icase = false);

}  // namespace sluice::core
