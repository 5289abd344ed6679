// The C++ tokenizer against the reference tokenizers, run by tests/tokenizer/reference.mjs:
// js-tiktoken and tiktoken (OpenAI's Rust core built to WebAssembly), over the corpus in
// tests/tokenizer/corpus, line by line and whole files, for o200k_base and cl100k_base; then
// against tiktoken on thousands of random short strings of awkward characters. Ids must be
// identical, and count() must equal their number. A difference fails with the line, the first
// token where the two part, and the bytes of the tokens on each side.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"
#include "tokenizer/tokenizer.h"

namespace sluice::tokenizer {
namespace {

namespace json = boost::json;

const std::string kTestDir = std::string(SLUICE_SOURCE_DIR) + "/tests/tokenizer";

// Runs the reference script once for the whole suite.
const json::object& reference() {
  static const json::object result = [] {
    testing::TempDir dir;
    const std::string out = dir.file("reference.json").string();
    auto node = testing::Process::start(
        {SLUICE_NODE, kTestDir + "/reference.mjs", kTestDir + "/corpus", out},
        dir.file("node.log").string());
    const std::optional<int> code = node->wait(std::chrono::minutes(4));
    if (code != 0) {
      ADD_FAILURE() << "reference.mjs failed (exit " << (code ? std::to_string(*code) : "timeout")
                    << "):\n"
                    << node->log();
      return json::object();
    }
    std::ifstream in(out, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str()).as_object();
  }();
  return result;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Split on every '\n', as JavaScript's split("\n") does (a final newline gives an empty line).
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  for (std::size_t nl; (nl = text.find('\n', begin)) != std::string::npos; begin = nl + 1) {
    lines.push_back(text.substr(begin, nl - begin));
  }
  lines.push_back(text.substr(begin));
  return lines;
}

std::vector<std::uint32_t> ids_of(const json::value& v) {
  std::vector<std::uint32_t> ids;
  for (const json::value& id : v.as_array())
    ids.push_back(static_cast<std::uint32_t>(id.as_int64()));
  return ids;
}

std::string escaped(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string tokens_from(const Tokenizer& t, const std::vector<std::uint32_t>& ids, std::size_t at) {
  std::string out;
  for (std::size_t i = at; i < ids.size() && i < at + 6; ++i) {
    out += " " + std::to_string(ids[i]) + ":\"" + escaped(t.token_bytes(ids[i])) + "\"";
  }
  return out.empty() ? " (none)" : out;
}

// Empty when equal; otherwise where and how they part.
std::string compare(const Tokenizer& t, std::string_view text,
                    const std::vector<std::uint32_t>& expected) {
  const std::vector<std::uint32_t> actual = t.encode(text);
  if (actual == expected) {
    const std::size_t n = t.count(text);
    return n == expected.size() ? std::string()
                                : "encode() agrees but count() says " + std::to_string(n) +
                                      " instead of " + std::to_string(expected.size());
  }
  std::size_t i = 0;
  std::size_t offset = 0;
  while (i < actual.size() && i < expected.size() && actual[i] == expected[i]) {
    offset += t.token_bytes(actual[i]).size();
    ++i;
  }
  std::ostringstream out;
  out << expected.size() << " tokens expected, " << actual.size() << " produced; first difference "
      << "at token " << i << ", byte " << offset << " (\"" << escaped(text.substr(offset, 40))
      << "\")\n  reference:" << tokens_from(t, expected, i)
      << "\n  sluice:   " << tokens_from(t, actual, i);
  return out.str();
}

void check_corpus(const char* reference_name) {
  const json::object& ref = reference();
  ASSERT_TRUE(ref.contains("files"));
  const json::array& files = ref.at("files").as_array();
  ASSERT_GE(files.size(), 8u) << "the corpus has fewer files than expected";
  for (const json::value& f : files) {
    const std::string name(f.at("name").as_string());
    const std::string text = read_file(kTestDir + "/corpus/" + name);
    const std::vector<std::string> lines = lines_of(text);
    for (const auto& [encoding_key, by_reference] : f.at("encodings").as_object()) {
      const Encoding encoding =
          encoding_key == "o200k_base" ? Encoding::kO200kBase : Encoding::kCl100kBase;
      const Tokenizer& t = Tokenizer::get(encoding);
      const json::object& expected = by_reference.at(reference_name).as_object();
      const json::array& expected_lines = expected.at("lines").as_array();
      ASSERT_EQ(expected_lines.size(), lines.size()) << name;
      for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string diff = compare(t, lines[i], ids_of(expected_lines[i]));
        ASSERT_TRUE(diff.empty()) << name << ":" << i + 1 << " (" << encoding_key << ", against "
                                  << reference_name << "): " << diff;
      }
      const std::string diff = compare(t, text, ids_of(expected.at("whole")));
      ASSERT_TRUE(diff.empty()) << name << " as a whole (" << encoding_key << ", against "
                                << reference_name << "): " << diff;
    }
  }
}

TEST(TokenizerReferenceTest, CorpusMatchesJsTiktoken) { check_corpus("js"); }

TEST(TokenizerReferenceTest, CorpusMatchesTiktoken) { check_corpus("tiktoken"); }

TEST(TokenizerReferenceTest, RandomStringsMatchTiktoken) {
  const json::object& ref = reference();
  ASSERT_TRUE(ref.contains("fuzz"));
  const json::array& cases = ref.at("fuzz").as_array();
  ASSERT_GE(cases.size(), 1000u);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const json::object& c = cases[i].as_object();
    const std::string_view text = c.at("text").as_string();
    for (const Encoding encoding : {Encoding::kO200kBase, Encoding::kCl100kBase}) {
      const std::string diff =
          compare(Tokenizer::get(encoding), text, ids_of(c.at(encoding_name(encoding))));
      ASSERT_TRUE(diff.empty()) << "random string " << i << " \"" << escaped(text) << "\" ("
                                << encoding_name(encoding) << "): " << diff;
    }
  }
}

}  // namespace
}  // namespace sluice::tokenizer
