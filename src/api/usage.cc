#include "api/usage.h"

#include <string.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sluice::api {

namespace {

// JSON's four spaces are all below '!', so one compare passes most bytes.
bool space(char c) {
  return static_cast<unsigned char>(c) <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

const char* skip_space(const char* p, const char* end) {
  while (p < end && space(*p)) ++p;
  return p;
}

// The quote that closes the string whose text starts at `p`, or nullptr. memchr jumps from quote
// to quote; a quote closes the string when an even number of backslashes precede it.
const char* closing_quote(const char* p, const char* end) {
  for (const char* from = p; from < end;) {
    const char* q = static_cast<const char*>(std::memchr(from, '"', end - from));
    if (q == nullptr) return nullptr;
    const char* b = q;
    while (b > p && b[-1] == '\\') --b;
    if ((q - b) % 2 == 0) return q;
    from = q + 1;
  }
  return nullptr;
}

// The counts a usage object names, each the first of its name at any depth (cached_tokens sits in
// prompt_tokens_details).
struct Counts {
  std::optional<std::uint64_t> prompt, completion, input, output, cached;

  // Nothing later in the object can change the usage: input/output_tokens (image answers) are
  // read only when prompt and completion tokens are both absent or 0.
  bool settled() const {
    return prompt && completion && cached && (*prompt != 0 || *completion != 0);
  }
};

// Which count a member name is, or nullptr: told apart by length and first letter, then one
// fixed-size compare (escapes are left as they are: the names wanted have none).
std::optional<std::uint64_t>* count_named(Counts& c, const char* name, std::size_t size) {
  switch (size) {
    case 12:
      return std::memcmp(name, "input_tokens", 12) == 0 ? &c.input : nullptr;
    case 13:
      switch (name[0]) {
        case 'p':
          return std::memcmp(name, "prompt_tokens", 13) == 0 ? &c.prompt : nullptr;
        case 'c':
          return std::memcmp(name, "cached_tokens", 13) == 0 ? &c.cached : nullptr;
        case 'o':
          return std::memcmp(name, "output_tokens", 13) == 0 ? &c.output : nullptr;
        default:
          return nullptr;
      }
    case 17:
      return std::memcmp(name, "completion_tokens", 17) == 0 ? &c.completion : nullptr;
    default:
      return nullptr;
  }
}

// The whole number whose digits start at `p` into `out`, and where they end. No digits (null, a
// sign, a string) read as 0; so does a number past 2^64 - 1 (as std::from_chars leaves it).
const char* read_count(const char* p, const char* end, std::uint64_t& out) {
  const char* start = p;
  std::uint64_t n = 0;
  for (; p < end && static_cast<unsigned char>(*p - '0') < 10; ++p) n = n * 10 + (*p - '0');
  // 19 digits always fit; a longer run (leading zeros, or an overflow) is left to from_chars.
  if (p - start > 19 && std::from_chars(start, p, n).ec != std::errc()) n = 0;
  out = n;
  return p;
}

// Reads the counts of the object whose '{' is at `p`, in one pass; false when it does not close
// (the text was cut short) before they are settled. Strings are jumped over with memchr and a
// member's number is read or skipped right after its name, so the bytes looked at one by one are
// few: brackets and commas. OpenAI's usage ends with completion_tokens_details, which holds none
// of the counts, so the scan stops before it.
bool scan_usage_object(const char* p, const char* end, Counts& counts) {
  int depth = 0;
  while (p < end) {
    const char c = *p;
    if (c == '"') {
      const char* close = closing_quote(p + 1, end);
      if (close == nullptr) return false;
      const char* name = p + 1;
      p = close + 1;
      if (p < end && space(*p)) p = skip_space(p, end);
      if (p >= end || *p != ':') continue;  // a string value, not a member name
      ++p;
      if (p < end && space(*p)) p = skip_space(p, end);
      std::optional<std::uint64_t>* count =
          count_named(counts, name, static_cast<std::size_t>(close - name));
      if (count != nullptr && !count->has_value()) {
        p = read_count(p, end, count->emplace());
        if (counts.settled()) return true;
      } else {
        // Another member's number is jumped over too; any other value is left to the loop.
        while (p < end && static_cast<unsigned char>(*p - '0') < 10) ++p;
      }
      continue;
    }
    // '[' | 0x20 is '{' and ']' | 0x20 is '}'.
    if ((c | 0x20) == '{') {
      ++depth;
    } else if ((c | 0x20) == '}' && --depth == 0) {
      return true;
    }
    ++p;
  }
  return false;
}

// OpenAI's usage object starts the same way in every answer and stream: prompt, completion and
// total tokens, then prompt_tokens_details with cached_tokens first. Matched byte for byte from
// the '{' at `p`, its counts are read with no scan for names; false (and nothing read) for any
// other start (another order, spaces, other providers), which scan_usage_object reads. Where it
// matches, the scan would read the same counts and stop at the same point.
bool read_openai_usage(const char* p, const char* end, Counts& counts) {
  auto literal = [&](std::string_view s) {
    if (static_cast<std::size_t>(end - p) < s.size() || std::memcmp(p, s.data(), s.size()) != 0) {
      return false;
    }
    p += s.size();
    return true;
  };
  auto number = [&](std::uint64_t& n) {
    const char* digits = p;
    p = read_count(p, end, n);
    return p != digits;
  };
  std::uint64_t prompt = 0, completion = 0, total = 0, cached = 0;
  if (!(literal(R"({"prompt_tokens":)") && number(prompt) && literal(R"(,"completion_tokens":)") &&
        number(completion) && literal(R"(,"total_tokens":)") && number(total) &&
        literal(R"(,"prompt_tokens_details":{"cached_tokens":)") && number(cached))) {
    return false;
  }
  if (prompt == 0 && completion == 0) return false;  // an image answer's counts may follow
  counts.prompt = prompt;
  counts.completion = completion;
  counts.cached = cached;
  return true;
}

// Where the last `"usage"` in `text` that starts before `before` starts, or npos. memrchr jumps
// back from 'g' to 'g', the rarest of its letters in what OpenAI sends after the usage object and
// inside it (system_fingerprint, reasoning_tokens: 'u' has default, auto and audio_tokens too),
// so an answer whose usage comes last is found after a few jumps, whatever its length.
std::size_t last_usage_name(std::string_view text, std::size_t before) {
  constexpr std::string_view kMember = "\"usage\"";
  constexpr std::size_t kG = 4;  // where the 'g' is in kMember
  if (text.size() < kMember.size()) return std::string_view::npos;
  // The 'g' of a candidate starting in [0, limit) lies in [kG, limit + kG).
  std::size_t limit = std::min(before, text.size() - kMember.size() + 1);
  while (limit > 0) {
    const void* g = ::memrchr(text.data() + kG, 'g', limit);
    if (g == nullptr) break;
    std::size_t at = static_cast<std::size_t>(static_cast<const char*>(g) - text.data()) - kG;
    if (std::memcmp(text.data() + at, kMember.data(), kMember.size()) == 0) return at;
    limit = at;
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<Usage> find_usage(std::string_view text) {
  // Scanned, not parsed: this runs on every answer and every batch of stream events, and a usage
  // object is a few flat numbers (and one nested `*_tokens_details`). The last "usage" member
  // whose value is an object wins (a stream's other chunks may carry "usage": null); a member
  // name cannot occur inside a string value, where its quotes would be escaped.
  const char* end = text.data() + text.size();
  for (std::size_t before = text.size();;) {
    std::size_t at = last_usage_name(text, before);
    if (at == std::string_view::npos) return std::nullopt;
    before = at;
    const char* p = skip_space(text.data() + at + 7, end);
    if (p >= end || *p != ':') continue;  // a string "usage", not a member
    p = skip_space(p + 1, end);
    if (p >= end || *p != '{') continue;  // "usage": null
    Counts c;
    if (!read_openai_usage(p, end, c) && !scan_usage_object(p, end, c)) continue;
    Usage u;
    u.prompt_tokens = c.prompt.value_or(0);
    u.completion_tokens = c.completion.value_or(0);
    if (u.prompt_tokens == 0 && u.completion_tokens == 0) {
      u.prompt_tokens = c.input.value_or(0);
      u.completion_tokens = c.output.value_or(0);
    }
    u.cached_tokens = c.cached.value_or(0);
    return u;
  }
}

}  // namespace sluice::api
