// An aligned text table that fits a width: numbers right-aligned, long
// names cut in the middle (the pod's suffix and the port stay visible), and
// the least useful columns left out when even cut names do not fit.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace netring::cli {

struct Column {
  std::string header;
  bool right = false;          // numbers
  bool flexible = false;       // may be cut to fit
  std::size_t min_width = 10;  // a flexible column is never cut below this
  int drop_order = 0;          // 0: always shown; otherwise the highest is left out first
  std::size_t floor = 0;       // at least this wide (streams: room for rows still to come)
};

struct Cell {
  std::string text;
  const char* color = "";  // SGR code, "" for none
};
using Row = std::vector<Cell>;

// Columns a string takes on a terminal: its UTF-8 code points.
std::size_t display_width(const std::string& s);
// `s` cut to `width` columns, the middle replaced by `ellipsis`.
std::string cut_middle(const std::string& s, std::size_t width, const std::string& ellipsis);

class Table {
 public:
  // `max_width`: fit this many columns (none: every value whole).
  Table(std::vector<Column> columns, std::optional<std::size_t> max_width, std::string ellipsis = "~",
        const char* header_style = "", const char* reset = "");

  void add(Row row) { rows_.push_back(std::move(row)); }
  std::size_t size() const { return rows_.size(); }

  // Decides the widths (and the columns left out) from the rows so far.
  void layout();
  // After layout(): one line each, with "\n".
  std::string header_line() const;
  std::string row_line(const Row& row) const;
  // layout(), then the header and every row.
  std::string render();

  bool shown(std::size_t column) const { return shown_.at(column); }

 private:
  std::vector<Column> columns_;
  std::optional<std::size_t> max_width_;
  std::string ellipsis_;
  const char* header_style_;
  const char* reset_;
  std::vector<Row> rows_;
  std::vector<std::size_t> widths_;
  std::vector<bool> shown_;
};

}  // namespace netring::cli
