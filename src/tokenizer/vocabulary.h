// The BPE vocabularies compiled into the binary: for each encoding, its split pattern and its
// tokens in rank order. The data is generated at build time from js-tiktoken's ranks
// (deps/tiktoken/embed_ranks.mjs writes vocabulary_data.cc into the build directory), so nothing
// is read from disk at run time and no table is written by hand here.
//
// Internal to the tokenizer module. The data is constant; every function is thread-safe.
#pragma once

#include <string_view>

namespace sluice::tokenizer {

struct Vocabulary {
  std::string_view name;            // "o200k_base"
  std::string_view source_version;  // "js-tiktoken 1.0.21"
  // tiktoken's pat_str: the regular expression that splits text into pieces before merging.
  std::string_view pattern;
  // One byte per token, its length in bytes; the token with rank r is the r-th entry.
  std::string_view lengths;
  // Every token's bytes, concatenated in rank order.
  std::string_view bytes;
};

const Vocabulary& o200k_base_vocabulary();
const Vocabulary& cl100k_base_vocabulary();

}  // namespace sluice::tokenizer
