#include "cli/flow_table.hpp"

#include "cli/format.hpp"

namespace netring::cli {
namespace {

std::vector<Column> columns(bool streaming) {
  // Streams cannot measure rows still to come: names get room up front.
  std::size_t name_floor = streaming ? 34 : 0;
  return {
      {"TIME", false, false, 10, 0, 12},
      {"SOURCE", false, true, 14, 0, name_floor},
      {"DESTINATION", false, true, 14, 0, name_floor},
      {"PROTO", false, false, 10, 0, streaming ? 6u : 0u},
      {"DIR", false, false, 10, 2, 7},
      {"PACKETS", true, false, 10, 1, streaming ? 7u : 0u},
      {"BYTES", true, false, 10, 0, streaming ? 9u : 0u},
      {"FLAGS", false, true, 8, 3, streaming ? 11u : 0u},
  };
}

}  // namespace

RowKind flow_rows() {
  return {columns, FlowTable::row_of};
}

Row FlowTable::row_of(const nlohmann::json& f, const Palette& pal) {
  const std::string proto = json_str(f, "protocol");
  const char* proto_color = proto == "tcp" ? pal.blue : proto == "udp" ? pal.green : pal.yellow;
  std::string flags = flow_summary(f);
  const char* flags_color = flags.find("RST") != std::string::npos   ? pal.red
                            : flags.find("SYN") != std::string::npos ? pal.yellow
                                                                     : "";
  // Estimated counts are marked; exact ones (and those of agents that do
  // not say) are not.
  const std::string mark = flow_exact(f) == false ? kEstimateMark : "";
  // The overflow record (what new flows counted while every table was full)
  // has no endpoints.
  const bool overflow = f.contains("overflow") && f["overflow"].is_boolean() && f["overflow"].get<bool>();
  return {
      {local_time_text(json_str(f, "last_seen")), pal.dim},
      {overflow            ? "(overflow)"
       : f.contains("src") ? endpoint_text(f["src"], proto)
                           : "",
       pal.cyan},
      {overflow            ? "(flow tables full)"
       : f.contains("dst") ? endpoint_text(f["dst"], proto)
                           : "",
       pal.magenta},
      {proto, proto_color},
      {json_str(f, "direction"), ""},
      {mark + count_text(json_num(f, "packets")), ""},
      {mark + bytes_text(json_num(f, "bytes")), ""},
      {flags, flags_color},
  };
}

}  // namespace netring::cli
