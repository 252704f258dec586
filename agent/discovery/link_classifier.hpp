// Which links the agent hooks, and as what.
//
//   nr-mirror*            the agent's own mirror links: never (sampling them
//                         would sample the samples)
//   --capture-ports       always, as capture ports (never sampled by TC:
//                         the XSKMAP program takes their frames); named
//                         explicitly, so neither --interfaces-exclude nor
//                         any other role applies to them
//   --interfaces-exclude  never
//   --interfaces-include  always (role "extra" unless it is also one below)
//   veth + IFLA_LINK_NETNSID   host side of a pod veth: its peer lives in
//                         another network namespace (the pod's)
//   physical              --physical-interfaces, or when that is empty the
//                         devices the default routes leave through
// Patterns are ECMAScript regexes searched in the name (anchor with ^...$
// for an exact match).
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "agent/model.hpp"
#include "pkg/common/error.hpp"

namespace netring::agent::discovery {

enum class LinkRole : std::uint8_t { kPodVeth, kPhysical, kExtra, kCapturePort };
const char* to_string(LinkRole r);

struct LinkInfo {
  std::uint32_t ifindex = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "veth", "bridge", "" for a physical NIC ...
  bool up = false;
  std::optional<std::int32_t> link_netnsid;  // peer's namespace id, as seen from here
  std::uint32_t peer_ifindex = 0;            // IFLA_LINK (in the peer's namespace when link_netnsid is set)
  std::vector<IpAddress> addresses;
};

struct DiscoveryOptions {
  std::string include;                           // --interfaces-include
  std::string exclude;                           // --interfaces-exclude
  std::vector<std::string> physical_interfaces;  // --physical-interfaces; empty: default-route devices
  std::vector<std::string> capture_ports;        // --capture-ports
  std::string mirror_prefix = "nr-mirror";
};

class LinkClassifier {
 public:
  // Errors name the option whose regex does not compile.
  static Result<LinkClassifier> create(const DiscoveryOptions& opts);

  // nullopt: not hooked. `default_route_devices` are ifindexes.
  std::optional<LinkRole> classify(const LinkInfo& link, const std::set<std::uint32_t>& default_route_devices) const;

 private:
  LinkClassifier() = default;
  std::optional<std::regex> include_, exclude_;
  std::vector<std::string> physical_;
  std::vector<std::string> capture_;
  std::string mirror_prefix_;
};

}  // namespace netring::agent::discovery
