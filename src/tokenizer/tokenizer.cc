#include "tokenizer/tokenizer.h"

#include "tokenizer/byte_pair.h"
#include "tokenizer/vocabulary.h"

namespace sluice::tokenizer {
namespace {

const Vocabulary& vocabulary_of(Encoding encoding) {
  return encoding == Encoding::kO200kBase ? o200k_base_vocabulary() : cl100k_base_vocabulary();
}

}  // namespace

Tokenizer::Tokenizer(Encoding encoding)
    : encoding_(encoding),
      ranks_(vocabulary_of(encoding)),
      splitter_(vocabulary_of(encoding).pattern) {}

const Tokenizer& Tokenizer::get(Encoding encoding) {
  // Function-local statics: built by the first caller, which others wait for (C++11 magic
  // statics); never destroyed, so no thread can count during static destruction.
  if (encoding == Encoding::kO200kBase) {
    static const Tokenizer* o200k = new Tokenizer(Encoding::kO200kBase);
    return *o200k;
  }
  static const Tokenizer* cl100k = new Tokenizer(Encoding::kCl100kBase);
  return *cl100k;
}

std::size_t Tokenizer::count(std::string_view text) const {
  std::size_t tokens = 0;
  Splitter::Cursor cursor = splitter_.split(text);
  for (std::string_view piece; cursor.next(piece);) tokens += count_piece(ranks_, piece);
  return tokens;
}

std::vector<std::uint32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<std::uint32_t> tokens;
  Splitter::Cursor cursor = splitter_.split(text);
  for (std::string_view piece; cursor.next(piece);) encode_piece(ranks_, piece, tokens);
  return tokens;
}

std::string_view Tokenizer::token_bytes(std::uint32_t id) const {
  return id < ranks_.size() ? ranks_.token(id) : std::string_view();
}

}  // namespace sluice::tokenizer
