// A plain-text table for the CLI's listings (`sluice keys list`, `sluice usage`): every column
// padded to its widest cell, two spaces apart, numbers right-aligned when asked.
//
// Not thread-safe; one table per command.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace sluice::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void align_right(std::size_t column);
  // Rows shorter than the header are padded with empty cells.
  void add(std::vector<std::string> row);
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sluice::cli
