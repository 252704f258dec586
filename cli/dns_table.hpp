// The table `netring dns` prints: one DNS exchange a line.
#pragma once

#include "cli/row_table.hpp"

namespace netring::cli {

RowKind dns_rows();
Row dns_row(const nlohmann::json& record, const Palette& pal);
// 2.3456 -> "2.35 ms"; 0.04 -> "0.040 ms"; 1234.5 -> "1.23 s".
std::string latency_text(double ms);

}  // namespace netring::cli
