#include "mock/text.h"

#include <xxhash.h>

#include <algorithm>

namespace sluice::mock {

namespace {

// Fixed forever: changing the list changes every mock answer, which breaks recorded fixtures.
const std::vector<std::string_view> kVocabulary = {
    "the",      "a",       "of",        "and",      "to",      "in",       "is",      "that",
    "it",       "for",     "on",        "with",     "as",      "was",      "at",      "by",
    "this",     "be",      "from",      "or",       "are",     "an",       "not",     "have",
    "which",    "one",     "you",       "all",      "were",    "we",       "when",    "there",
    "can",      "more",    "if",        "will",     "would",   "about",    "out",     "so",
    "what",     "up",      "its",       "into",     "than",    "them",     "only",    "other",
    "new",      "some",    "could",     "time",     "these",   "two",      "may",     "then",
    "first",    "any",     "like",      "now",      "my",      "such",     "make",    "over",
    "our",      "even",    "most",      "after",    "also",    "made",     "many",    "before",
    "must",     "through", "back",      "years",    "where",   "much",     "your",    "way",
    "well",     "down",    "should",    "because",  "each",    "just",     "those",   "people",
    "how",      "too",     "little",    "state",    "good",    "very",     "world",   "still",
    "own",      "see",     "men",       "work",     "long",    "here",     "get",     "both",
    "between",  "life",    "being",     "under",    "never",   "day",      "same",    "another",
    "know",     "while",   "last",      "might",    "us",      "great",    "old",     "year",
    "off",      "come",    "since",     "against",  "go",      "came",     "right",   "used",
    "take",     "three",   "water",     "river",    "stone",   "light",    "garden",  "window",
    "morning",  "evening", "forest",    "mountain", "valley",  "harbor",   "bridge",  "market",
    "village",  "city",    "road",      "path",     "field",   "meadow",   "orchard", "lantern",
    "candle",   "letter",  "book",      "page",     "story",   "song",     "music",   "voice",
    "silence",  "thought", "idea",      "question", "answer",  "reason",   "careful", "quiet",
    "bright",   "gentle",  "simple",    "clear",    "warm",    "cold",     "early",   "late",
    "small",    "large",   "green",     "blue",     "yellow",  "orange",   "purple",  "silver",
    "golden",   "wooden",  "paper",     "glass",    "iron",    "cotton",   "wool",    "bread",
    "apple",    "cherry",  "honey",     "salt",     "pepper",  "coffee",   "tea",     "kitchen",
    "table",    "chair",   "door",      "wall",     "roof",    "floor",    "stair",   "corner",
    "shadow",   "cloud",   "rain",      "snow",     "wind",    "storm",    "summer",  "winter",
    "spring",   "autumn",  "north",     "south",    "east",    "west",     "island",  "ocean",
    "shore",    "wave",    "tide",      "sand",     "shell",   "boat",     "sail",    "anchor",
    "compass",  "map",     "journey",   "travel",   "arrive",  "leave",    "return",  "remember",
    "forget",   "begin",   "finish",    "open",     "close",   "build",    "carry",   "gather",
    "follow",   "lead",    "listen",    "speak",    "write",   "read",     "draw",    "paint",
    "measure",  "count",   "sort",      "share",    "keep",    "hold",     "turn",    "watch",
    "wait",     "rest",    "sleep",     "wake",     "dream",   "hope",     "plan",    "choose",
    "change",   "grow",    "plant",     "seed",     "root",    "leaf",     "branch",  "flower",
    "grass",    "moss",    "fern",      "bird",     "feather", "nest",     "egg",     "fox",
    "rabbit",   "deer",    "horse",     "sheep",    "goat",    "bee",      "ant",     "owl",
    "whale",    "fish",    "clock",     "hour",     "minute",  "second",   "week",    "month",
    "calendar", "number",  "letterbox", "engine",   "wheel",   "lever",    "rope",    "thread",
    "needle",   "button",  "pocket",    "basket",   "bottle",  "jar",      "bowl",    "spoon",
    "knife",    "fork",    "plate",     "cup",      "kettle",  "stove",    "oven",    "lamp",
    "mirror",   "picture", "frame",     "ribbon",   "string",  "puzzle",   "riddle",  "game",
    "player",   "team",    "friend",    "neighbor", "teacher", "student",  "doctor",  "farmer",
    "baker",    "painter", "sailor",    "pilot",    "builder", "writer",   "reader",  "steady",
    "patient",  "honest",  "curious",   "brave",    "calm",    "kind",     "eager",   "proud",
    "humble",   "swift",   "slow",      "heavy",    "soft",    "hard",     "smooth",  "rough",
    "sharp",    "round",   "narrow",    "wide",     "deep",    "shallow",  "high",    "low",
    "near",     "far",     "inside",    "outside",  "above",   "below",    "across",  "along",
    "around",   "toward",  "beyond",    "within",   "without", "together", "alone",   "often",
    "rarely",   "always",  "sometimes", "perhaps",  "almost",  "nearly",   "quite",   "rather",
    "enough",
};

bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The end of the token that starts at `i` (after its leading whitespace), or `i` at the end.
std::size_t token_end(std::string_view text, std::size_t i) {
  if (i >= text.size()) return i;
  if (!is_word_byte(static_cast<unsigned char>(text[i]))) return i + 1;
  while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
  return i;
}

std::size_t skip_space(std::string_view text, std::size_t i) {
  while (i < text.size() && is_space(static_cast<unsigned char>(text[i]))) ++i;
  return i;
}

}  // namespace

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t Rng::next() {
  std::uint64_t out = splitmix64(state_);
  state_ += 0x9e3779b97f4a7c15ULL;
  return out;
}

double Rng::unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

Hasher& Hasher::add(std::string_view field) {
  add(static_cast<std::uint64_t>(field.size()));
  bytes_.append(field);
  return *this;
}

Hasher& Hasher::add(std::uint64_t field) {
  // Little-endian whatever the host, so seeds are the same on every machine.
  for (int i = 0; i < 8; ++i) bytes_ += static_cast<char>(field >> (8 * i));
  return *this;
}

std::uint64_t Hasher::digest() const { return XXH3_64bits(bytes_.data(), bytes_.size()); }

std::uint64_t choice_seed(std::uint64_t base, std::uint64_t index) {
  return splitmix64(base ^ splitmix64(index));
}

const std::vector<std::string_view>& vocabulary() { return kVocabulary; }

std::vector<std::string> answer_words(std::uint64_t seed, int count) {
  Rng rng(seed);
  std::vector<std::string> words;
  words.reserve(static_cast<std::size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i) {
    std::string word = i == 0 ? "" : " ";
    word += kVocabulary[rng.below(kVocabulary.size())];
    words.push_back(std::move(word));
  }
  return words;
}

AnswerLength answer_length(std::uint64_t seed, std::optional<int> forced,
                           std::optional<std::int64_t> limit,
                           const config::MockSettings& settings) {
  if (forced) return {*forced, "stop"};
  // A different mix than the words use, so the length does not correlate with the first word.
  std::uint64_t spread = static_cast<std::uint64_t>(std::max(settings.max_tokens, 1));
  int natural = 8 + static_cast<int>(splitmix64(seed ^ 0x6c656e677468ULL) % spread);
  if (limit && *limit < natural) return {static_cast<int>(*limit), "length"};
  return {natural, "stop"};
}

std::size_t count_tokens(std::string_view text) {
  std::size_t count = 0;
  std::size_t i = skip_space(text, 0);
  while (i < text.size()) {
    ++count;
    i = skip_space(text, token_end(text, i));
  }
  return count;
}

std::vector<std::string> split_tokens(std::string_view text) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  std::size_t i = skip_space(text, 0);
  while (i < text.size()) {
    i = token_end(text, i);
    pieces.emplace_back(text.substr(start, i - start));
    start = i;
    i = skip_space(text, i);
  }
  if (start < text.size()) {
    if (pieces.empty()) pieces.emplace_back();
    pieces.back().append(text.substr(start));
  }
  return pieces;
}

std::string hex64(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = kDigits[v & 0xf];
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                      static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                      static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace sluice::mock
