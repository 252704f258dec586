#include "cli/row_table.hpp"

namespace netring::cli {

RowTable::RowTable(RowKind kind, const Terminal& term, const Palette& pal, bool streaming)
    : kind_(kind), pal_(pal), table_(kind.columns(streaming), term.width, term.ellipsis, pal.bold, pal.reset) {}

void RowTable::add(const nlohmann::json& record) {
  table_.add(kind_.row(record, pal_));
}

std::string RowTable::render() {
  return table_.render();
}

void RowTable::lay_out() {
  if (laid_out_) return;
  table_.layout();
  laid_out_ = true;
}

std::string RowTable::header() {
  lay_out();
  return table_.header_line();
}

std::string RowTable::line(const nlohmann::json& record) {
  lay_out();
  return table_.row_line(kind_.row(record, pal_));
}

std::string json_str(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

double json_num(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}

}  // namespace netring::cli
