#include "config/prices.h"

namespace sluice::config {

namespace {

struct Listed {
  std::string_view name;
  Price price;
};

// Sorted by nothing in particular: list_price() picks the longest matching name.
constexpr Listed kListPrices[] = {
    // OpenAI
    {"gpt-5", {1.25, 0.125, 10.00}},
    {"gpt-5-mini", {0.25, 0.025, 2.00}},
    {"gpt-5-nano", {0.05, 0.005, 0.40}},
    {"gpt-4.1", {2.00, 0.50, 8.00}},
    {"gpt-4.1-mini", {0.40, 0.10, 1.60}},
    {"gpt-4.1-nano", {0.10, 0.025, 0.40}},
    {"gpt-4o", {2.50, 1.25, 10.00}},
    {"gpt-4o-mini", {0.15, 0.075, 0.60}},
    {"gpt-4-turbo", {10.00, 10.00, 30.00}},
    {"gpt-4", {30.00, 30.00, 60.00}},
    {"gpt-3.5-turbo", {0.50, 0.50, 1.50}},
    {"o1", {15.00, 7.50, 60.00}},
    {"o1-mini", {1.10, 0.55, 4.40}},
    {"o3", {2.00, 0.50, 8.00}},
    {"o3-mini", {1.10, 0.55, 4.40}},
    {"o4-mini", {1.10, 0.275, 4.40}},
    {"text-embedding-3-small", {0.02, 0.02, 0}},
    {"text-embedding-3-large", {0.13, 0.13, 0}},
    {"text-embedding-ada-002", {0.10, 0.10, 0}},
    // Anthropic (cached input: cache reads)
    {"claude-opus-4", {15.00, 1.50, 75.00}},
    {"claude-sonnet-4", {3.00, 0.30, 15.00}},
    {"claude-3-7-sonnet", {3.00, 0.30, 15.00}},
    {"claude-3-5-sonnet", {3.00, 0.30, 15.00}},
    {"claude-3-5-haiku", {0.80, 0.08, 4.00}},
    {"claude-3-haiku", {0.25, 0.03, 1.25}},
    // Google
    {"gemini-2.5-pro", {1.25, 0.31, 10.00}},
    {"gemini-2.5-flash", {0.30, 0.075, 2.50}},
    {"gemini-2.0-flash", {0.10, 0.025, 0.40}},
    {"gemini-1.5-pro", {1.25, 0.3125, 5.00}},
    {"gemini-1.5-flash", {0.075, 0.01875, 0.30}},
};

}  // namespace

std::optional<Price> list_price(std::string_view model) {
  const Listed* best = nullptr;
  for (const Listed& l : kListPrices) {
    if (model.starts_with(l.name) && (best == nullptr || l.name.size() > best->name.size())) {
      best = &l;
    }
  }
  if (best == nullptr) return std::nullopt;
  return best->price;
}

}  // namespace sluice::config
