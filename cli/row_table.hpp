// A table of the API's JSON records, one a line, fitted to the terminal:
// whole (render) or streamed (header, then a line per record, widths fixed
// up front so later lines stay aligned). What the columns are and how a
// record fills them is the record kind's (flow_table, dns_table,
// drop_table).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/table.hpp"
#include "cli/terminal.hpp"

namespace netring::cli {

struct RowKind {
  // Streams cannot measure rows still to come: `streaming` asks for floors.
  std::vector<Column> (*columns)(bool streaming);
  Row (*row)(const nlohmann::json& record, const Palette& pal);
};

class RowTable {
 public:
  RowTable(RowKind kind, const Terminal& term, const Palette& pal, bool streaming);

  void add(const nlohmann::json& record);
  std::string render();

  std::string header();
  std::string line(const nlohmann::json& record);

 private:
  void lay_out();

  RowKind kind_;
  Palette pal_;
  Table table_;
  bool laid_out_ = false;
};

// Shared by the record kinds.
std::string json_str(const nlohmann::json& j, const char* key);
double json_num(const nlohmann::json& j, const char* key);

}  // namespace netring::cli
