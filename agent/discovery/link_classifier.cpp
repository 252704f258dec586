#include "agent/discovery/link_classifier.hpp"

#include <algorithm>

namespace netring::agent::discovery {

const char* to_string(LinkRole r) {
  switch (r) {
    case LinkRole::kPodVeth: return "pod";
    case LinkRole::kPhysical: return "physical";
    case LinkRole::kExtra: return "extra";
    case LinkRole::kCapturePort: return "capture-port";
  }
  return "?";
}

Result<LinkClassifier> LinkClassifier::create(const DiscoveryOptions& opts) {
  LinkClassifier c;
  auto compile = [](const std::string& pattern, const char* flag, std::optional<std::regex>& out) -> Result<void> {
    if (pattern.empty()) return ok();
    try {
      out.emplace(pattern, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return Error::invalid(std::string("--") + flag, "'" + pattern + "' is not a valid regex: " + e.what());
    }
    return ok();
  };
  if (auto r = compile(opts.include, "interfaces-include", c.include_); !r) return std::move(r).take_error();
  if (auto r = compile(opts.exclude, "interfaces-exclude", c.exclude_); !r) return std::move(r).take_error();
  c.physical_ = opts.physical_interfaces;
  c.capture_ = opts.capture_ports;
  c.mirror_prefix_ = opts.mirror_prefix;
  return c;
}

std::optional<LinkRole> LinkClassifier::classify(const LinkInfo& link,
                                                 const std::set<std::uint32_t>& default_route_devices) const {
  if (!mirror_prefix_.empty() && link.name.rfind(mirror_prefix_, 0) == 0) return std::nullopt;
  if (std::find(capture_.begin(), capture_.end(), link.name) != capture_.end()) return LinkRole::kCapturePort;
  if (exclude_ && std::regex_search(link.name, *exclude_)) return std::nullopt;
  std::optional<LinkRole> role;
  if (link.kind == "veth" && link.link_netnsid.has_value()) {
    role = LinkRole::kPodVeth;
  } else if (physical_.empty() ? default_route_devices.count(link.ifindex) > 0
                               : std::find(physical_.begin(), physical_.end(), link.name) != physical_.end()) {
    role = LinkRole::kPhysical;
  }
  if (!role && include_ && std::regex_search(link.name, *include_)) role = LinkRole::kExtra;
  return role;
}

}  // namespace netring::agent::discovery
