#include "cli/api_client.hpp"

namespace netring::cli {
namespace {

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// httplib connects without blocking and keeps no errno worth showing: a
// refused connection and an unreachable host read alike.
std::string connection_detail(httplib::Error err) {
  return err == httplib::Error::ConnectionTimeout ? "connection timed out" : "connection refused or host unreachable";
}

}  // namespace

std::optional<ApiFailure> check_api_version(const ServerAddress& server, int status, const httplib::Headers& headers) {
  auto it = headers.find(kApiVersionHeader);
  if (it == headers.end()) {
    return ApiFailure{FailureKind::kNotTheApi,
                      server.text(),
                      server.text() + " answered (HTTP " + std::to_string(status) +
                          "), but not as a netring agent's API: its answer has no " + kApiVersionHeader +
                          " header. Is this the API port (" + std::to_string(kDefaultApiPort) +
                          ") and not the metrics port (9990)? An agent older than this netring also lacks "
                          "the header.",
                      "",
                      "",
                      status};
  }
  std::string versions = it->second;
  std::size_t start = 0;
  while (start <= versions.size()) {
    auto comma = versions.find(',', start);
    std::string v = trim(versions.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (v == kApiVersion) return std::nullopt;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ApiFailure{FailureKind::kVersionMismatch,
                    server.text(),
                    "API version mismatch: the agent at " + server.text() + " serves API version " + trim(versions) +
                        ", this netring (" NETRING_VERSION ") speaks version " + kApiVersion +
                        ". Use the netring of the agent's release: it is in the agent's image, e.g. "
                        "kubectl -n netring exec ds/netring -- netring status",
                    "",
                    "",
                    status};
}

ApiFailure failure_from_answer(const ServerAddress& server, const std::string& target, int status,
                               const std::string& body) {
  ApiFailure f;
  f.server = server.text();
  f.status = status;
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string error;
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    error = j["error"].get<std::string>();
    if (j.contains("parameter") && j["parameter"].is_string()) f.parameter = j["parameter"].get<std::string>();
  } else {
    error = "HTTP " + std::to_string(status) + (body.empty() ? "" : ": " + body.substr(0, 200));
  }
  if (status == 404) {
    f.kind = FailureKind::kNotFound;
    auto path = target.substr(0, target.find('?'));
    f.message = "the agent at " + server.text() + " does not serve " + path + " (" + error + ")";
  } else if (status == 429) {
    f.kind = FailureKind::kBusy;
    f.message = server.text() + ": " + error;
  } else if (status >= 400 && status < 500) {
    f.kind = FailureKind::kBadRequest;
    f.message = error;
  } else {
    f.kind = FailureKind::kServerError;
    f.message = "the agent at " + server.text() + " failed: " + error;
  }
  return f;
}

ApiFailure unreachable_failure(const ServerAddress& server, const std::string& detail) {
  ApiFailure f{FailureKind::kUnreachable,
               server.text(),
               "cannot reach the netring API at " + server.text() + " (" + detail + ")",
               "",
               "",
               0};
  f.hint =
      "Forward an agent's API port to this machine first, e.g.\n"
      "  kubectl -n netring port-forward ds/netring 9991\n"
      "or name the agents with --server HOST:PORT (or --server-file FILE).";
  return f;
}

ApiClient::ApiClient(ServerAddress address) : address_(std::move(address)), client_(address_.host, address_.port) {
  client_.set_connection_timeout(5, 0);
  client_.set_read_timeout(30, 0);
  client_.set_write_timeout(10, 0);
  client_.set_keep_alive(true);
}

std::variant<nlohmann::json, ApiFailure> ApiClient::get_json(const std::string& target) {
  auto res = client_.Get(target.c_str(), httplib::Headers{{"Accept", "application/json"}});
  if (!res) {
    if (res.error() == httplib::Error::Connection || res.error() == httplib::Error::ConnectionTimeout)
      return unreachable_failure(address_, connection_detail(res.error()));
    return ApiFailure{FailureKind::kBroken,
                      address_.text(),
                      "the connection to " + address_.text() + " broke: " + httplib::to_string(res.error()),
                      "",
                      "",
                      0};
  }
  if (auto f = check_api_version(address_, res->status, res->headers)) return *f;
  if (res->status < 200 || res->status >= 300) return failure_from_answer(address_, target, res->status, res->body);
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded())
    return ApiFailure{FailureKind::kBroken,
                      address_.text(),
                      address_.text() + " answered " + target + " with something that is not JSON",
                      "",
                      "",
                      res->status};
  return j;
}

std::optional<ApiFailure> ApiClient::stream(const std::string& target,
                                            const std::function<bool(const char*, std::size_t)>& on_data,
                                            std::chrono::seconds idle_timeout) {
  client_.set_read_timeout(idle_timeout.count(), 0);
  std::optional<ApiFailure> early;
  int status = 0;
  std::string error_body;
  auto res = client_.Get(
      target.c_str(), httplib::Headers{},
      [&](const httplib::Response& r) {
        status = r.status;
        early = check_api_version(address_, r.status, r.headers);
        return !early;
      },
      [&](const char* data, std::size_t len) {
        if (stopped_.load()) return false;
        if (status < 200 || status >= 300) {
          if (error_body.size() < 64 * 1024) error_body.append(data, len);
          return true;
        }
        return on_data(data, len);
      });
  client_.set_read_timeout(30, 0);
  if (early) return early;
  if (stopped_.load()) return std::nullopt;
  if (status != 0 && (status < 200 || status >= 300)) return failure_from_answer(address_, target, status, error_body);
  if (!res) {
    if (res.error() == httplib::Error::Canceled) return std::nullopt;  // on_data stopped it
    if (status == 0 && (res.error() == httplib::Error::Connection || res.error() == httplib::Error::ConnectionTimeout))
      return unreachable_failure(address_, connection_detail(res.error()));
    return ApiFailure{FailureKind::kBroken,
                      address_.text(),
                      "the stream from " + address_.text() + " broke: " + httplib::to_string(res.error()),
                      "",
                      "",
                      status};
  }
  return std::nullopt;
}

void ApiClient::stop() {
  stopped_ = true;
  client_.stop();
}

}  // namespace netring::cli
