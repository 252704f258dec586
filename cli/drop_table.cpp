#include "cli/drop_table.hpp"

#include "cli/format.hpp"

namespace netring::cli {
namespace {

std::vector<Column> columns(bool streaming) {
  std::size_t name_floor = streaming ? 30 : 0;
  return {
      {"TIME", false, false, 10, 0, 12},
      {"SOURCE", false, true, 14, 0, name_floor},
      {"DESTINATION", false, true, 14, 0, name_floor},
      {"PROTO", false, false, 5, 2, streaming ? 6u : 0u},
      {"REASON", false, true, 12, 0, streaming ? 20u : 0u},
      {"BYTES", true, false, 6, 1, streaming ? 9u : 0u},
      {"INTERFACE", false, true, 8, 3, streaming ? 12u : 0u},
  };
}

}  // namespace

Row drop_row(const nlohmann::json& d, const Palette& pal) {
  const std::string proto = json_str(d, "protocol");
  // A packet without an IP header (ARP, a packet freed before its headers
  // were set) has no ends.
  const bool has_flow = d.contains("src") && d.contains("dst");
  std::string iface = json_str(d, "interface");
  if (iface.empty() && d.contains("ifindex") && d["ifindex"].is_number())
    iface = "#" + std::to_string(d["ifindex"].get<std::uint64_t>());
  return {
      {local_time_text(json_str(d, "time")), pal.dim},
      {has_flow ? endpoint_text(d["src"], proto) : "(no IP header)", pal.cyan},
      {has_flow ? endpoint_text(d["dst"], proto) : "", pal.magenta},
      {proto, ""},
      {json_str(d, "reason"), pal.red},
      {bytes_text(json_num(d, "bytes")), ""},
      {iface, ""},
  };
}

RowKind drop_rows() {
  return {columns, drop_row};
}

}  // namespace netring::cli
