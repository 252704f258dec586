// netring observe: flows from every agent, filtered by the API, newest last
// (as `hubble observe`); --follow streams them as they appear or grow.
#include "cli/commands.hpp"
#include "cli/flow_table.hpp"
#include "cli/listing.hpp"

namespace netring::cli {
namespace {

// "2026-11-25T12:00:00.123456789Z" sorts as text: fixed width, UTC.
bool newer(const nlohmann::json& a, const nlohmann::json& b) {
  const std::string& la = a["last_seen"].get_ref<const std::string&>();
  const std::string& lb = b["last_seen"].get_ref<const std::string&>();
  if (la != lb) return la > lb;
  return a.value("id", std::uint64_t{0}) < b.value("id", std::uint64_t{0});  // as the API breaks ties
}

bool valid_flow(const nlohmann::json& f) {
  return f.is_object() && f.contains("last_seen") && f["last_seen"].is_string() && f.contains("src") &&
         f.contains("dst");
}

ListingCommand observe_command() {
  ListingCommand cmd;
  CommandInfo& i = cmd.info;
  i.name = "observe";
  i.synopsis = "netring observe [filters] [--last N] [--follow] [-o table|json|jsonpath=TEMPLATE]";
  i.description =
      "Flows the agents see, oldest first, the newest last (20 unless --last). With --follow, then every flow\n"
      "again each time it is new or has grown, until Ctrl-C; --follow alone prints only what changes from now\n"
      "on. The filters are the API's (doc/api.md); a value the API rejects is reported with its message.\n"
      "In the table ~ marks counts estimated from samples; the others the kernel counted exactly.\n"
      "-o json prints each flow as the API gives it, one a line; -o jsonpath applies a kubectl-style\n"
      "template to each flow.";
  i.examples =
      "  netring observe --namespace shop --protocol tcp\n"
      "  netring observe --from-pod shop/frontend-7d9f8-x2k4p --follow\n"
      "  netring observe --since 5m --last 100 -o json | jq .bytes\n"
      "  netring observe -o jsonpath='{.src.pod} -> {.dst.pod} {.bytes}'\n";
  cmd.noun = "flows";
  cmd.filters = endpoint_filters("flows");
  cmd.filters.back().option.help = "last seen within this long (30s, 5m, 1h) or since an RFC 3339 UTC time";
  cmd.kind = {"/api/v1/flows", "flows", valid_flow, newer, flow_rows(), {}};
  return cmd;
}

}  // namespace

CommandInfo observe_info() {
  return listing_info(observe_command());
}

int run_observe(std::span<const std::string> argv) {
  return run_listing(observe_command(), argv);
}

}  // namespace netring::cli
