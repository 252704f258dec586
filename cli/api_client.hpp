// One agent's HTTP API, as the command line uses it: JSON answers and
// streams, with every way it can go wrong turned into a sentence a user can
// act on (not reachable: how to port-forward; not the API, or another API
// version; the API's own 4xx message).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "cli/server_address.hpp"

namespace netring::cli {

// The API version this command line speaks, and the header every answer of
// the agent's API listener carries (agent/api/api_server.hpp).
inline constexpr const char* kApiVersion = "1";
inline constexpr const char* kApiVersionHeader = "Netring-Api-Version";

enum class FailureKind {
  kUnreachable,      // no connection (nothing listens, no port-forward)
  kNotTheApi,        // an HTTP server that is not the agent's API (the metrics port?)
  kVersionMismatch,  // the agent's API, another version
  kBadRequest,       // 400 and other 4xx: the API's message about our query
  kNotFound,         // 404 from the API: an endpoint this agent does not have
  kBusy,             // 429: too many follow streams or a capture already running
  kServerError,      // 5xx
  kBroken,           // the connection broke, or the answer did not parse
};

struct ApiFailure {
  FailureKind kind = FailureKind::kBroken;
  std::string server;     // host:port
  std::string message;    // whole sentences, without a "netring:" prefix
  std::string hint;       // what to do about it (printed once for several servers)
  std::string parameter;  // the query parameter the API named (4xx)
  int status = 0;         // HTTP status, 0 without an answer
};

// Whether an answer's headers come from this API version; `status` only
// colours the message.
std::optional<ApiFailure> check_api_version(const ServerAddress& server, int status, const httplib::Headers& headers);
// A non-2xx answer of the API, from its JSON error body.
ApiFailure failure_from_answer(const ServerAddress& server, const std::string& target, int status,
                               const std::string& body);
ApiFailure unreachable_failure(const ServerAddress& server, const std::string& detail);

class ApiClient {
 public:
  explicit ApiClient(ServerAddress address);
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  const ServerAddress& address() const { return address_; }

  // GET `target` (path and query); its JSON body when the status is 2xx.
  std::variant<nlohmann::json, ApiFailure> get_json(const std::string& target);

  // GET `target` and hand the body to `on_data` as it arrives (return false
  // to stop). Returns nullopt when the stream ended normally: the server
  // closed it, `on_data` stopped it, or stop() was called.
  // `idle_timeout`: how long the stream may stay silent (follow streams
  // send an empty line every few seconds; a capture may match nothing for
  // its whole duration).
  std::optional<ApiFailure> stream(const std::string& target,
                                   const std::function<bool(const char* data, std::size_t len)>& on_data,
                                   std::chrono::seconds idle_timeout = std::chrono::seconds(60));

  // Ends a stream() running on another thread (its socket is shut down).
  void stop();

 private:
  ServerAddress address_;
  httplib::Client client_;
  std::atomic<bool> stopped_{false};
};

}  // namespace netring::cli
