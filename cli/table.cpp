#include "cli/table.hpp"

#include <algorithm>

namespace netring::cli {
namespace {

constexpr std::size_t kGap = 2;

bool continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// Byte offset after the first `n` code points of `s`.
std::size_t bytes_of_first(const std::string& s, std::size_t n) {
  std::size_t i = 0;
  while (i < s.size() && n > 0) {
    ++i;
    while (i < s.size() && continuation(static_cast<unsigned char>(s[i]))) ++i;
    --n;
  }
  return i;
}

}  // namespace

std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += continuation(c) ? 0 : 1;
  return n;
}

std::string cut_middle(const std::string& s, std::size_t width, const std::string& ellipsis) {
  std::size_t w = display_width(s);
  if (w <= width) return s;
  std::size_t ew = display_width(ellipsis);
  if (width <= ew) return s.substr(0, bytes_of_first(s, width));
  std::size_t keep = width - ew;
  std::size_t head = (keep + 1) / 2, tail = keep - head;
  std::string out = s.substr(0, bytes_of_first(s, head));
  out += ellipsis;
  out += s.substr(bytes_of_first(s, w - tail));
  return out;
}

Table::Table(std::vector<Column> columns, std::optional<std::size_t> max_width, std::string ellipsis,
             const char* header_style, const char* reset)
    : columns_(std::move(columns)),
      max_width_(max_width),
      ellipsis_(std::move(ellipsis)),
      header_style_(header_style),
      reset_(reset) {}

void Table::layout() {
  const std::size_t n = columns_.size();
  std::vector<std::size_t> natural(n);
  for (std::size_t i = 0; i < n; ++i) {
    natural[i] = std::max(display_width(columns_[i].header), columns_[i].floor);
    for (const Row& r : rows_)
      if (i < r.size()) natural[i] = std::max(natural[i], display_width(r[i].text));
  }
  shown_.assign(n, true);
  widths_ = natural;
  if (!max_width_) return;
  auto total = [&] {
    std::size_t t = 0, cols = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (shown_[i]) {
        t += widths_[i];
        ++cols;
      }
    return t + (cols > 0 ? (cols - 1) * kGap : 0);
  };
  for (;;) {
    widths_ = natural;
    // Cut the widest flexible column, one column at a time, until it fits.
    for (std::size_t t = total(); t > *max_width_; --t) {
      std::size_t best = n;
      for (std::size_t i = 0; i < n; ++i) {
        if (!shown_[i] || !columns_[i].flexible) continue;
        std::size_t floor = std::min(natural[i], std::max(columns_[i].min_width, display_width(columns_[i].header)));
        if (widths_[i] <= floor) continue;
        if (best == n || widths_[i] > widths_[best]) best = i;
      }
      if (best == n) break;
      --widths_[best];
    }
    if (total() <= *max_width_) return;
    // Still too wide: leave out the most expendable column and start over.
    std::size_t drop = n;
    for (std::size_t i = 0; i < n; ++i)
      if (shown_[i] && columns_[i].drop_order > 0 && (drop == n || columns_[i].drop_order > columns_[drop].drop_order))
        drop = i;
    if (drop == n) return;  // nothing left to leave out: the lines wrap
    shown_[drop] = false;
  }
}

std::string Table::header_line() const {
  Row r;
  for (const auto& c : columns_) r.push_back(Cell{c.header, header_style_});
  return row_line(r);
}

std::string Table::row_line(const Row& row) const {
  std::string out;
  std::size_t last = 0;
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (shown_[i]) last = i;
  bool first = true;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (!shown_[i]) continue;
    if (!first) out.append(kGap, ' ');
    first = false;
    const Cell empty;
    const Cell& c = i < row.size() ? row[i] : empty;
    std::string text = max_width_ ? cut_middle(c.text, widths_[i], ellipsis_) : c.text;
    std::size_t w = display_width(text);
    std::size_t pad = widths_[i] > w ? widths_[i] - w : 0;
    if (columns_[i].right) out.append(pad, ' ');
    bool colored = c.color != nullptr && c.color[0] != '\0' && !text.empty();
    if (colored) out += c.color;
    out += text;
    if (colored) out += reset_;
    if (!columns_[i].right && i != last) out.append(pad, ' ');
  }
  out += "\n";
  return out;
}

std::string Table::render() {
  layout();
  std::string out = header_line();
  for (const Row& r : rows_) out += row_line(r);
  return out;
}

}  // namespace netring::cli
