// List prices of well-known models, in USD per million tokens, for deployments whose
// configuration leaves prices out. They are the providers' published list prices as of 2025
// (standard tier, no batch discount); a deployment's own `*_cost_per_mtok` always wins, and
// docs/keys-and-limits.md says how to set them.
//
// Pure functions over a constant table; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace sluice::config {

struct Price {
  double input = 0;         // per million prompt tokens
  double cached_input = 0;  // per million prompt tokens served from the provider's prompt cache
  double output = 0;        // per million completion tokens
};

// The price of `model` (an upstream model name such as "gpt-4o-2024-08-06"): the entry with the
// longest name that `model` starts with, so dated snapshots take their family's price and
// "gpt-4o-mini" does not take "gpt-4o"'s. nullopt for a model not in the table.
std::optional<Price> list_price(std::string_view model);

}  // namespace sluice::config
