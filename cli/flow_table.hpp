// The table `netring observe` prints: one flow a line, fitted to the
// terminal. Whole (render) or streamed (header, then line per flow, with
// widths fixed up front so later lines stay aligned).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/table.hpp"
#include "cli/terminal.hpp"

namespace netring::cli {

class FlowTable {
 public:
  FlowTable(const Terminal& term, const Palette& pal, bool streaming);

  void add(const nlohmann::json& flow);
  std::string render();

  std::string header();
  std::string line(const nlohmann::json& flow);

  static Row row_of(const nlohmann::json& flow, const Palette& pal);

 private:
  Palette pal_;
  Table table_;
  bool laid_out_ = false;
};

}  // namespace netring::cli
