// Secrets, their hashes, and the model globs of a key (keys.h).
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "store/keys.h"

namespace sluice::store {

namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool base62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

std::string new_secret() {
  std::string out(kSecretPrefix);
  out.reserve(kSecretPrefix.size() + kSecretRandomChars);
  // Rejection sampling keeps every character equally likely: a byte below 248 (4 x 62) maps to
  // byte % 62; the rest are thrown away.
  std::array<unsigned char, 64> bytes;
  while (out.size() < kSecretPrefix.size() + kSecretRandomChars) {
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
      throw std::runtime_error("RAND_bytes failed: no randomness to make a key from");
    }
    for (unsigned char b : bytes) {
      if (b >= 248) continue;
      out.push_back(kBase62[b % 62]);
      if (out.size() == kSecretPrefix.size() + kSecretRandomChars) break;
    }
  }
  return out;
}

bool well_formed_secret(std::string_view text) {
  if (text.size() != kSecretPrefix.size() + kSecretRandomChars) return false;
  if (!text.starts_with(kSecretPrefix)) return false;
  for (char c : text.substr(kSecretPrefix.size())) {
    if (!base62(c)) return false;
  }
  return true;
}

std::string secret_hash(std::string_view secret) {
  // Every authenticated request hashes its key: the algorithm is fetched once and each thread
  // keeps one context, since a one-shot EVP_Digest allocates a context and looks the algorithm
  // up on every call (OpenSSL 3), which costs twice the digest itself.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Context context;
  std::string out(32, '\0');
  unsigned int length = 0;
  // SHA-256 cannot fail on valid arguments.
  EVP_DigestInit_ex2(context.ctx, sha256, nullptr);
  EVP_DigestUpdate(context.ctx, secret.data(), secret.size());
  EVP_DigestFinal_ex(context.ctx, reinterpret_cast<unsigned char*>(out.data()), &length);
  out.resize(length);
  return out;
}

bool same_hash(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool glob_matches(std::string_view pattern, std::string_view text) {
  // The classic two-pointer match: on a mismatch, go back to the last '*' and let it take one
  // more character. Linear for patterns with one '*', O(pattern x text) at worst.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool model_allowed(const KeyRecord& key, std::string_view model) {
  if (key.models.empty()) return true;
  for (const auto& pattern : key.models) {
    if (glob_matches(pattern, model)) return true;
  }
  return false;
}

}  // namespace sluice::store
