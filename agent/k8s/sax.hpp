// Streaming extraction of the needed fields from Kubernetes JSON with
// nlohmann::json::sax_parse: a List (PodList, ServiceList, NodeList or the
// "List" kubectl prints) yields its items one by one and never becomes a DOM;
// a watch event line yields its type and object.
#pragma once

#include <functional>
#include <istream>
#include <string>
#include <string_view>

#include "agent/k8s/object.hpp"
#include "pkg/common/error.hpp"

namespace netring::agent::k8s {

struct ListInfo {
  std::string kind;              // "PodList", "List", or "Status" for an error body
  std::string resource_version;  // metadata.resourceVersion
  std::string continue_token;    // metadata.continue; empty on the last page
  size_t items = 0;
  Object status;  // code/reason/message when kind == "Status"
};

using ItemSink = std::function<void(Object&&)>;

// Calls on_item for each element of "items" as soon as it ends.
Result<ListInfo> parse_list(std::string_view json, const ItemSink& on_item);
Result<ListInfo> parse_list(std::istream& in, const ItemSink& on_item);

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };
const char* to_string(EventType t);

struct WatchEvent {
  EventType type = EventType::kError;
  Object object;  // for kError: a Status (code 410 = resource version too old)
};

// One line of a watch stream: {"type":"ADDED","object":{...}}.
Result<WatchEvent> parse_watch_event(std::string_view line);

}  // namespace netring::agent::k8s
