// The table `netring drops` prints: one dropped packet a line.
#pragma once

#include "cli/row_table.hpp"

namespace netring::cli {

RowKind drop_rows();
Row drop_row(const nlohmann::json& drop, const Palette& pal);

}  // namespace netring::cli
