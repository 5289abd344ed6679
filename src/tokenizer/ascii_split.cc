#include "tokenizer/ascii_split.h"

namespace sluice::tokenizer {
namespace {

// The patterns the matchers implement, as js-tiktoken 1.0.21 ships them.
constexpr std::string_view kO200kPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kCl100kPattern =
    R"(('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A byte of the text, or kEnd past its end. The is_* classes are of ASCII bytes: a byte of 0x80
// or above is in none of them, and the matchers check for one (is_high) before trusting a "no".
constexpr int kEnd = -1;

struct Text {
  std::string_view s;
  int at(std::size_t i) const { return i < s.size() ? static_cast<unsigned char>(s[i]) : kEnd; }
};

bool is_high(int c) { return c >= 0x80; }
bool is_upper(int c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(int c) { return c >= 'a' && c <= 'z'; }
bool is_letter(int c) { return is_upper(c) || is_lower(c); }
bool is_digit(int c) { return c >= '0' && c <= '9'; }
// Unicode White_Space in ASCII: tab, line feed, vertical tab, form feed, carriage return, space.
bool is_space(int c) { return (c >= '\t' && c <= '\r') || c == ' '; }
bool is_crlf(int c) { return c == '\r' || c == '\n'; }
// [^\r\n\p{L}\p{N}] for an ASCII byte: false for kEnd and for high bytes, like every class here.
bool is_ascii(int c) { return c >= 0 && c < 0x80; }
bool is_prefix(int c) { return is_ascii(c) && !is_crlf(c) && !is_letter(c) && !is_digit(c); }
// [^\s\p{L}\p{N}] for an ASCII byte.
bool is_symbol(int c) { return is_ascii(c) && !is_space(c) && !is_letter(c) && !is_digit(c); }

// The end of a run of bytes in `in_class` from i, or kUndecided if the run stops at a high byte
// (which might belong to the class).
template <class InClass>
std::size_t run_end(const Text& t, std::size_t i, InClass in_class) {
  while (in_class(t.at(i))) ++i;
  return is_high(t.at(i)) ? kUndecided : i;
}

// ('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D) at i: its end, or i.
// Only ASCII bytes can match, so a high byte decides nothing here.
std::size_t contraction_end(const Text& t, std::size_t i) {
  if (t.at(i) != '\'') return i;
  const int a = t.at(i + 1) | 0x20;  // ASCII lower case (kEnd stays negative)
  const int b = t.at(i + 2) | 0x20;
  if (t.at(i + 1) == kEnd) return i;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (t.at(i + 2) == kEnd) return i;
  if ((a == 'r' || a == 'v') && b == 'e') return i + 3;
  if (a == 'l' && b == 'l') return i + 3;
  return i;
}

// The three alternatives the two patterns share, from the one for digits on:
// \p{N}{1,3} | ' ?' symbols [extra]* | \s*[\r\n]+ | \s+(?!\S) | \s+
template <class Extra>
std::size_t match_common(const Text& t, std::size_t p, Extra extra) {
  const int c = t.at(p);
  // \p{N}{1,3}
  if (is_digit(c)) {
    std::size_t e = p + 1;
    while (e < p + 3 && is_digit(t.at(e))) ++e;
    if (e < p + 3 && is_high(t.at(e))) return kUndecided;
    return e;
  }
  //  ?[^\s\p{L}\p{N}]+[extra]*
  {
    std::size_t q = p;
    if (c == ' ') {
      if (is_high(t.at(p + 1))) return kUndecided;
      if (is_symbol(t.at(p + 1))) q = p + 1;
    }
    if (is_symbol(t.at(q))) {
      std::size_t e = run_end(t, q + 1, is_symbol);
      if (e == kUndecided) return kUndecided;
      while (extra(t.at(e))) ++e;
      return e;
    }
  }
  if (!is_space(c)) return kUndecided;  // not reached for ASCII: every byte is in some class
  const std::size_t e = run_end(t, p + 1, is_space);
  if (e == kUndecided) return kUndecided;
  // \s*[\r\n]+ : backtracking from the whole run, the first position that is a CR or LF is the
  // last one in the run, and [\r\n]+ then ends right after it.
  for (std::size_t k = e; k > p; --k) {
    if (is_crlf(t.at(k - 1))) return k;
  }
  // \s+(?!\S) : the whole run if nothing follows it, else all of it but the last character.
  if (e == t.s.size()) return e;
  if (e - p >= 2) return e - 1;
  // \s+
  return e;
}

bool is_crlf_or_slash(int c) { return is_crlf(c) || c == '/'; }

}  // namespace

std::size_t match_o200k_ascii(std::string_view text, std::size_t p) {
  const Text t{text};
  const int c = t.at(p);
  if (c == kEnd || is_high(c)) return kUndecided;
  // [^\r\n\p{L}\p{N}]? then letters: if the prefix is taken and no letter follows, not taking
  // it cannot help (the byte is not a letter), so only one start needs trying.
  const std::size_t q = is_prefix(c) ? p + 1 : p;
  if (is_high(t.at(q))) return kUndecided;
  if (is_letter(t.at(q))) {
    // Alternative 1: [upper]*[lower]+ ; alternative 2: [upper]+[lower]* (in ASCII the two
    // classes do not overlap, so neither needs to give back what it took).
    const std::size_t u = run_end(t, q, is_upper);
    if (u == kUndecided) return kUndecided;
    const std::size_t l = run_end(t, u, is_lower);
    if (l == kUndecided) return kUndecided;
    // Both alternatives end at l here: alternative 1 needs l > u, alternative 2 needs u > q;
    // since t.at(q) is a letter, one of them holds.
    return contraction_end(t, l);
  }
  return match_common(t, p, is_crlf_or_slash);
}

std::size_t match_cl100k_ascii(std::string_view text, std::size_t p) {
  const Text t{text};
  const int c = t.at(p);
  if (c == kEnd || is_high(c)) return kUndecided;
  // ('s|'t|'re|'ve|'m|'ll|'d), any case.
  if (const std::size_t e = contraction_end(t, p); e != p) return e;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  const std::size_t q = is_prefix(c) ? p + 1 : p;
  if (is_high(t.at(q))) return kUndecided;
  if (is_letter(t.at(q))) return run_end(t, q, is_letter);
  return match_common(t, p, is_crlf);
}

AsciiMatcher matcher_for(std::string_view pattern) {
  if (pattern == kO200kPattern) return match_o200k_ascii;
  if (pattern == kCl100kPattern) return match_cl100k_ascii;
  return nullptr;
}

}  // namespace sluice::tokenizer
