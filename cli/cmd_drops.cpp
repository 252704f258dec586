// netring drops: packets the kernel of each agent's node dropped, with the
// kernel's reason, newest last. The API keeps a rate-limited sample of
// recent drops (the exact counts are metrics), and does not stream them.
#include "cli/commands.hpp"
#include "cli/drop_table.hpp"
#include "cli/listing.hpp"

namespace netring::cli {
namespace {

bool newer(const nlohmann::json& a, const nlohmann::json& b) {
  return a["time"].get_ref<const std::string&>() > b["time"].get_ref<const std::string&>();
}

bool valid_drop(const nlohmann::json& d) {
  return d.is_object() && d.contains("time") && d["time"].is_string() && d.contains("reason");
}

ListingCommand drops_command() {
  ListingCommand cmd;
  CommandInfo& i = cmd.info;
  i.name = "drops";
  i.synopsis = "netring drops [filters] [--last N] [-o table|json|jsonpath=TEMPLATE]";
  i.description =
      "Packets the agents' kernels dropped (tracepoint skb:kfree_skb), with the kernel's drop reason, oldest\n"
      "first, the newest last (20 unless --last). These are details the kernel rate-limits (100 per CPU and\n"
      "second) and each agent keeps its latest 1000 of: a sample of recent drops. The exact counts by reason\n"
      "and workload are the metric netring_drops_total.\n"
      "-o json prints each drop as the API gives it (doc/api.md, /api/v1/drops), one a line.";
  i.examples =
      "  netring drops --namespace shop\n"
      "  netring drops --reason NETFILTER_DROP --to-pod shop/cart-5c6d7-abcde\n"
      "  netring drops -o jsonpath='{.reason} {.src.pod} -> {.dst.pod}'\n";
  cmd.noun = "drops";
  cmd.filters = endpoint_filters("drops");
  cmd.filters.push_back({{"reason", 0, true, false, "REASON",
                          "the kernel's drop reason, e.g. NETFILTER_DROP, NO_SOCKET (SKB_DROP_REASON_ optional)"},
                         "reason"});
  cmd.kind = {"/api/v1/drops", "drops", valid_drop, newer, drop_rows(), {}};
  cmd.follow = false;
  return cmd;
}

}  // namespace

CommandInfo drops_info() {
  return listing_info(drops_command());
}

int run_drops(std::span<const std::string> argv) {
  return run_listing(drops_command(), argv);
}

}  // namespace netring::cli
