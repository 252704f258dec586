// JSON renderings of the read model for the HTTP API.
#pragma once

#include <nlohmann/json.hpp>

#include "agent/model.hpp"

namespace netring::agent::api {

nlohmann::json to_json(const FlowView& f);
nlohmann::json to_json(const DnsRecord& d);
nlohmann::json to_json(const InterfaceCounters& i);
nlohmann::json to_json(const AgentStatus& s);
nlohmann::json to_json(const DropView& d);
nlohmann::json to_json(const KernelEventStatus& k);
// "SYN", "ACK", ... in bit order.
nlohmann::json tcp_flag_names(std::uint8_t flags);

}  // namespace netring::agent::api
