#include "tokenizer/splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>
#include <string>

namespace sluice::tokenizer {

struct SplitterCode {
  pcre2_code* code = nullptr;
  bool jit = false;
};

// One per thread, shared by every Splitter: match data does not depend on the pattern when it
// is made by size, and one thread runs one match at a time.
struct ThreadMatchState {
  ThreadMatchState() {
    // Only the whole match is used; a match data with fewer pairs than the pattern has groups
    // still gets the whole match (pcre2_match then returns 0).
    match = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    // The JIT's default stack is 32 KiB of the machine stack. Its own stack starts at 32 KiB
    // and may grow (it is reserved, and only the pages used are touched) up to 8 MiB.
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (match == nullptr || context == nullptr || stack == nullptr) throw std::bad_alloc();
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadMatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(match);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;

  pcre2_match_data* match = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
};

namespace {

// Unicode's White_Space property (PropList.txt), the regex crate's \s.
constexpr std::string_view kWhiteSpace =
    "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}"
    "\\x{3000}";

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

std::string Splitter::translate(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else if (e == 'S') {
        throw std::runtime_error("tokenizer pattern has \\S inside a character class");
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    // No nested classes and no POSIX [:classes:] in tiktoken's patterns; a ']' right after '['
    // or '[^' would be a literal, and they have none of those either.
    if (c == '[' && !in_class) in_class = true;
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

Splitter::Splitter(std::string_view pattern, bool ascii_fast_path)
    : code_(new SplitterCode), ascii_(ascii_fast_path ? matcher_for(pattern) : nullptr) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  const std::string translated = translate(pattern);
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                              &error_offset, nullptr);
  if (code_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    delete code_;
    throw std::runtime_error("tokenizer pattern does not compile at offset " +
                             std::to_string(error_offset) + ": " +
                             reinterpret_cast<const char*>(message));
  }
  // Without the JIT (a PCRE2 built without it) the interpreter gives the same matches, slower.
  code_->jit = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

Splitter::~Splitter() {
  pcre2_code_free(code_->code);
  delete code_;
}

bool Splitter::jit() const { return code_->jit; }

Splitter::Cursor::Cursor(const Splitter& splitter, std::string_view text)
    : splitter_(splitter), state_(thread_state()), text_(text) {}

bool Splitter::Cursor::next(std::string_view& piece) {
  if (pending_end_ > pos_) {
    piece = text_.substr(pending_begin_, pending_end_ - pending_begin_);
    pos_ = pending_end_;
    return true;
  }
  if (pos_ >= text_.size()) return false;
  if (splitter_.ascii_ != nullptr && static_cast<unsigned char>(text_[pos_]) < 0x80) {
    const std::size_t end = splitter_.ascii_(text_, pos_);
    if (end != kUndecided) {
      piece = text_.substr(pos_, end - pos_);
      pos_ = end;
      return true;
    }
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text_.data());
  const SplitterCode& code = *splitter_.code_;
  const int rc =
      code.jit
          ? pcre2_jit_match(code.code, subject, text_.size(), pos_, 0, state_.match, state_.context)
          : pcre2_match(code.code, subject, text_.size(), pos_, 0, state_.match, state_.context);
  std::size_t begin = text_.size();
  std::size_t end = text_.size();
  if (rc >= 0) {
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state_.match);
    begin = ovector[0];
    end = ovector[1];
    // The patterns cannot match the empty string; if one ever did, the next byte goes with it
    // so the loop still moves on.
    if (end <= begin) end = begin + 1;
  } else if (rc != PCRE2_ERROR_NOMATCH) {
    // See the header: the rest is one piece.
    begin = pos_;
  }
  if (begin > pos_) {
    // Bytes no match may include: not valid UTF-8.
    piece = text_.substr(pos_, begin - pos_);
    pending_begin_ = begin;
    pending_end_ = end;
    pos_ = begin;
    return true;
  }
  piece = text_.substr(begin, end - begin);
  pos_ = end;
  return true;
}

}  // namespace sluice::tokenizer
