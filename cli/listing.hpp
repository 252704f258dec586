// What the listing commands (observe, dns, drops) share: ask every agent for
// its newest records of one endpoint and print the newest of all, oldest
// first; or follow every agent's NDJSON stream (follow=true) and print the
// lines as they come, whole, whichever agent they came from.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/command.hpp"
#include "cli/output.hpp"
#include "cli/query.hpp"
#include "cli/row_table.hpp"

namespace netring::cli {

struct ListingKind {
  std::string endpoint;   // "/api/v1/flows"
  std::string array_key;  // the answer's array: "flows"
  // Whether a record is one (fields the table and the ordering need).
  bool (*valid)(const nlohmann::json& record);
  // Whether `a` is newer than `b` (the merge of several agents' answers).
  bool (*newer)(const nlohmann::json& a, const nlohmann::json& b);
  RowKind rows;
  // The API's parameter -> the option that set it (for the API's errors).
  std::map<std::string, std::string> flag_of_param;
};

// A filter option and the API parameter its value passes to unchanged (the
// API validates it and says what is wrong).
struct Filter {
  OptionSpec option;
  std::string param;
};
// The endpoint filters the flows, dns and drops endpoints share, in the
// help's words for `noun` ("flows from this pod").
std::vector<Filter> endpoint_filters(const std::string& noun);

struct ListingCommand {
  CommandInfo info;  // its options: the filters, then --last, --follow (if any), -o
  std::vector<Filter> filters;
  ListingKind kind;  // flag_of_param is filled from the filters
  std::string noun;  // "flows"
  std::size_t default_last = 20;
  bool follow = true;  // whether the endpoint streams (follow=true)
};
CommandInfo listing_info(const ListingCommand& cmd);
int run_listing(const ListingCommand& cmd, std::span<const std::string> argv);

// The newest `last` records of all agents, oldest first.
int list_once(const Common& c, const Query& q, std::size_t last, const OutputFormat& out, const ListingKind& kind);
// The newest `last` of each agent's (none when unset), then every record
// the agents stream, until Ctrl-C, stdout closes or every stream ends.
int list_follow(const Common& c, const Query& q, std::optional<std::size_t> last, const OutputFormat& out,
                const ListingKind& kind);

}  // namespace netring::cli
