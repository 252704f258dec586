// GET /api/v1/drops: the kernel's latest drop details, filtered like
// /api/v1/flows (pods, namespace, workload, ip, port, protocol, since,
// limit) and by reason, newest first.
#pragma once

#include <httplib.h>

#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "agent/api/api_error.hpp"
#include "agent/api/flow_query.hpp"
#include "agent/model.hpp"

namespace netring::agent::api {

struct DropQuery {
  FlowQuery where;                    // the filters shared with flows (since: the drop's time)
  std::optional<std::string> reason;  // the kernel's name, as /api/v1/drops prints it

  bool matches(const DropView& d) const;
};

std::variant<DropQuery, ApiError> parse_drop_query(const httplib::Request& req, const FlowQueryLimits& limits,
                                                   std::uint64_t now_ns);

struct DropSelection {
  std::vector<const DropView*> drops;  // newest first, at most limit
  std::size_t matched = 0;
};
// `drops` oldest first, as the snapshot keeps them.
DropSelection select_drops(std::span<const DropView> drops, const DropQuery& q);

}  // namespace netring::agent::api
