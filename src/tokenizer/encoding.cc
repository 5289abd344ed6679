#include "tokenizer/encoding.h"

#include <array>
#include <utility>

namespace sluice::tokenizer {
namespace {

struct Family {
  std::string_view name;
  Encoding encoding;
};

// Checked in order: the o200k families come before the "gpt-4" they would otherwise fall under
// ("gpt-4.1" would match "gpt-4" followed by '.').
constexpr std::array kFamilies{
    Family{"gpt-4o", Encoding::kO200kBase},
    Family{"gpt-4.1", Encoding::kO200kBase},
    Family{"gpt-4.5", Encoding::kO200kBase},
    Family{"gpt-5", Encoding::kO200kBase},
    Family{"chatgpt-4o", Encoding::kO200kBase},
    Family{"o1", Encoding::kO200kBase},
    Family{"o3", Encoding::kO200kBase},
    Family{"o4", Encoding::kO200kBase},
    Family{"gpt-oss", Encoding::kO200kBase},
    Family{"gpt-4", Encoding::kCl100kBase},
    Family{"gpt-3.5", Encoding::kCl100kBase},
    Family{"gpt-35-turbo", Encoding::kCl100kBase},
    Family{"text-embedding-3", Encoding::kCl100kBase},
    Family{"text-embedding-ada-002", Encoding::kCl100kBase},
    Family{"davinci-002", Encoding::kCl100kBase},
    Family{"babbage-002", Encoding::kCl100kBase},
};

bool in_family(std::string_view model, std::string_view family) {
  if (!model.starts_with(family)) return false;
  if (model.size() == family.size()) return true;
  const char after = model[family.size()];
  return after == '-' || after == '.' || after == ':';
}

}  // namespace

std::string_view encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::kO200kBase:
      return "o200k_base";
    case Encoding::kCl100kBase:
      return "cl100k_base";
  }
  return "unknown";
}

std::optional<Encoding> encoding_for_model(std::string_view model) {
  if (model.starts_with("ft:")) model.remove_prefix(3);
  for (const Family& f : kFamilies) {
    if (in_family(model, f.name)) return f.encoding;
  }
  return std::nullopt;
}

}  // namespace sluice::tokenizer
