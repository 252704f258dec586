// netring dns: DNS exchanges from every agent (each query matched to its
// response, timeouts, responses without a query), filtered by the API,
// newest last; --follow streams new ones.
#include "cli/commands.hpp"
#include "cli/dns_table.hpp"
#include "cli/listing.hpp"

namespace netring::cli {
namespace {

// When the exchange began: the query's time, a lone response's own.
const std::string& time_of(const nlohmann::json& d) {
  const auto& q = d["query_time"];
  return q.is_string() ? q.get_ref<const std::string&>() : d["response_time"].get_ref<const std::string&>();
}

bool newer(const nlohmann::json& a, const nlohmann::json& b) {
  const std::string& ta = time_of(a);
  const std::string& tb = time_of(b);
  if (ta != tb) return ta > tb;
  return a.value("seq", std::uint64_t{0}) > b.value("seq", std::uint64_t{0});
}

bool valid_record(const nlohmann::json& d) {
  if (!d.is_object() || !d.contains("client") || !d.contains("server")) return false;
  const bool q = d.contains("query_time") && d["query_time"].is_string();
  const bool r = d.contains("response_time") && d["response_time"].is_string();
  return q || r;
}

ListingCommand dns_command() {
  ListingCommand cmd;
  CommandInfo& i = cmd.info;
  i.name = "dns";
  i.synopsis = "netring dns [filters] [--last N] [--follow] [-o table|json|jsonpath=TEMPLATE]";
  i.description =
      "DNS exchanges the agents saw, oldest first, the newest last (20 unless --last): each query matched to\n"
      "its response, with the answer's code and the latency as seen at the node; queries never answered\n"
      "(timeout) and responses whose query was not seen (unmatched). Every DNS message is copied whatever\n"
      "the sample rate, so these are all of them. The client is the source, the server the destination:\n"
      "--from-pod is the client. With --follow, then each new exchange until Ctrl-C.\n"
      "-o json prints each exchange as the API gives it (doc/api.md, /api/v1/dns), one a line.";
  i.examples =
      "  netring dns --rcode NXDOMAIN --namespace shop\n"
      "  netring dns --outcome timeout --last 100\n"
      "  netring dns --from-pod shop/frontend-7d9f8-x2k4p --follow\n"
      "  netring dns -o jsonpath='{.qname} {.rcode} {.latency_ms}'\n";
  cmd.noun = "exchanges";
  cmd.filters = endpoint_filters("exchanges");
  cmd.filters.push_back({{"outcome", 0, true, false, "OUTCOME", "answered, timeout or unmatched_response"}, "outcome"});
  cmd.filters.push_back(
      {{"rcode", 0, true, false, "RCODE", "the answer's code: NOERROR, NXDOMAIN, SERVFAIL, ... or 0..15"}, "rcode"});
  cmd.filters.push_back({{"qname", 0, true, false, "NAME", "the name asked for (exact, case-insensitive)"}, "qname"});
  cmd.kind = {"/api/v1/dns", "dns", valid_record, newer, dns_rows(), {}};
  return cmd;
}

}  // namespace

CommandInfo dns_info() {
  return listing_info(dns_command());
}

int run_dns(std::span<const std::string> argv) {
  return run_listing(dns_command(), argv);
}

}  // namespace netring::cli
