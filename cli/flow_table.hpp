// The table `netring observe` prints: one flow a line.
#pragma once

#include "cli/row_table.hpp"

namespace netring::cli {

RowKind flow_rows();

class FlowTable : public RowTable {
 public:
  FlowTable(const Terminal& term, const Palette& pal, bool streaming) : RowTable(flow_rows(), term, pal, streaming) {}
  static Row row_of(const nlohmann::json& flow, const Palette& pal);
};

}  // namespace netring::cli
