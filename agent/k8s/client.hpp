// HTTPS access to the Kubernetes API: where it is and how to authenticate
// (in-cluster service account or a kubeconfig), and streaming GETs.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/config.hpp"
#include "pkg/common/error.hpp"

namespace httplib {
class ClientImpl;
}

namespace netring::agent::k8s {

struct ClientConfig {
  std::string scheme = "https";
  std::string host;
  int port = 443;
  std::string path_prefix;  // a server URL like https://proxy/k8s/clusters/c-1
  std::string ca_pem;       // trusted CA bundle (PEM)
  bool insecure_skip_verify = false;
  std::string token;       // static bearer token
  std::string token_file;  // re-read per request: projected service-account tokens rotate
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string source;  // where this came from, for messages
};

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// KUBERNETES_SERVICE_HOST/PORT, <sa_dir>/token and <sa_dir>/ca.crt.
Result<ClientConfig> in_cluster_config(const EnvLookup& env, const std::string& sa_dir = kServiceAccountDir);
// The current context of a kubeconfig file: server, CA, token or client certificate.
Result<ClientConfig> kubeconfig_config(const std::string& path);
// --kubeconfig when set, else in-cluster when KUBERNETES_SERVICE_HOST is set.
Result<ClientConfig> discover_client_config(const Config& config, const EnvLookup& env);

// One connection's worth of API access; not for concurrent requests (each
// watch owns one Client). stop() may be called from any thread.
class Client {
 public:
  static Result<std::unique_ptr<Client>> create(const ClientConfig& cfg);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  struct Response {
    int status = 0;
    std::string error_body;  // the body of a non-2xx response (bounded)
  };
  using DataSink = std::function<bool(std::string_view chunk)>;  // false aborts the request
  using StatusSink = std::function<void(int status)>;            // called once the headers arrived

  // GET path_and_query (starting with "/"); a 2xx body goes to on_data as it arrives.
  // `read_timeout`: longest silence on the connection before the request fails.
  Result<Response> get(const std::string& path_and_query, const DataSink& on_data, std::chrono::seconds read_timeout,
                       const StatusSink& on_status = nullptr);

  // Aborts the request in flight, if any.
  void stop();

  // Reuse the connection between requests (point lookups); watches keep
  // one request per connection.
  void set_keep_alive(bool on);
  // Response bytes received so far: status line, headers and body as
  // decoded from the chunked encoding (TLS records and chunk framing add a
  // few percent on the wire).
  uint64_t bytes_received() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  explicit Client(ClientConfig cfg);
  Result<void> init();
  Result<std::string> bearer_token() const;

  ClientConfig cfg_;
  std::unique_ptr<httplib::ClientImpl> http_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace netring::agent::k8s
