#include "agent/k8s/client.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <httplib.h>
#include <yaml-cpp/yaml.h>

namespace netring::agent::k8s {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

Result<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno("open", path, what);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

Result<std::string> base64_decode(const std::string& in, const std::string& what) {
  std::string clean;
  for (char c : in) {
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  }
  if (clean.size() % 4 != 0) return Error("decode base64", 0, what + ": length is not a multiple of 4");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) return Error("decode base64", 0, what + ": not base64");
  // EVP_DecodeBlock counts padding as output bytes.
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// "https://host:port/prefix" -> parts; host may be "[v6]".
Result<void> parse_server(const std::string& url, ClientConfig& cfg) {
  auto bad = [&](const char* why) { return Error("parse server URL", 0, "\"" + url + "\": " + why); };
  size_t sep = url.find("://");
  if (sep == std::string::npos) return bad("expected https://host[:port]");
  cfg.scheme = url.substr(0, sep);
  if (cfg.scheme != "https" && cfg.scheme != "http") return bad("scheme must be https or http");
  std::string rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  cfg.path_prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!cfg.path_prefix.empty() && cfg.path_prefix.back() == '/') cfg.path_prefix.pop_back();
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return bad("unterminated [IPv6] host");
    cfg.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("junk after [IPv6] host");
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    cfg.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (cfg.host.empty()) return bad("no host");
  cfg.port = cfg.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    try {
      size_t used = 0;
      int p = std::stoi(port, &used);
      if (used != port.size() || p < 1 || p > 65535) return bad("port out of range");
      cfg.port = p;
    } catch (const std::exception&) {
      return bad("port is not a number");
    }
  }
  return ok();
}

template <class T, void (*Free)(T*)>
struct OsslDeleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OsslDeleter<BIO, BIO_free_all>>;

BioPtr mem_bio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

}  // namespace

Result<ClientConfig> in_cluster_config(const EnvLookup& env, const std::string& sa_dir) {
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty()) return Error("in-cluster config", 0, "KUBERNETES_SERVICE_HOST is not set");
  ClientConfig cfg;
  std::string h = host->find(':') != std::string::npos ? "[" + *host + "]" : *host;
  auto parsed = parse_server("https://" + h + ":" + (port && !port->empty() ? *port : "443"), cfg);
  if (!parsed) return std::move(parsed).take_error();
  auto ca = read_file(sa_dir + "/ca.crt", "the service account's CA (is automountServiceAccountToken off?)");
  if (!ca) return std::move(ca).take_error();
  cfg.ca_pem = std::move(*ca);
  cfg.token_file = sa_dir + "/token";
  std::ifstream probe(cfg.token_file);
  if (!probe) return Error::from_errno("open", cfg.token_file, "the service account token");
  cfg.source = "in-cluster service account";
  return cfg;
}

Result<ClientConfig> kubeconfig_config(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error::from_errno("open", path, "--kubeconfig");
  } catch (const YAML::Exception& e) {
    return Error("parse kubeconfig", 0, path + ": " + e.what());
  }
  auto bad = [&](const std::string& why) { return Error("kubeconfig", 0, path + ": " + why); };
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  auto resolve = [&](const std::string& p) { return std::filesystem::path(p).is_absolute() ? p : (dir / p).string(); };
  try {
    std::string current = root["current-context"] ? root["current-context"].as<std::string>() : "";
    if (current.empty()) return bad("no current-context");
    auto find_named = [&](const char* list, const std::string& name, const char* inner) -> YAML::Node {
      if (!root[list] || !root[list].IsSequence()) return YAML::Node();
      for (const auto& n : root[list]) {
        if (n["name"] && n["name"].as<std::string>() == name) return n[inner];
      }
      return YAML::Node();
    };
    YAML::Node ctx = find_named("contexts", current, "context");
    if (!ctx) return bad("context \"" + current + "\" not found");
    std::string cluster_name = ctx["cluster"] ? ctx["cluster"].as<std::string>() : "";
    std::string user_name = ctx["user"] ? ctx["user"].as<std::string>() : "";
    YAML::Node cluster = find_named("clusters", cluster_name, "cluster");
    if (!cluster) return bad("cluster \"" + cluster_name + "\" not found");

    ClientConfig cfg;
    cfg.source = "kubeconfig " + path + " context " + current;
    if (!cluster["server"]) return bad("cluster \"" + cluster_name + "\" has no server");
    if (auto r = parse_server(cluster["server"].as<std::string>(), cfg); !r) return std::move(r).take_error();
    if (cluster["certificate-authority-data"]) {
      auto ca = base64_decode(cluster["certificate-authority-data"].as<std::string>(), "certificate-authority-data");
      if (!ca) return std::move(ca).take_error();
      cfg.ca_pem = std::move(*ca);
    } else if (cluster["certificate-authority"]) {
      auto ca = read_file(resolve(cluster["certificate-authority"].as<std::string>()), "certificate-authority");
      if (!ca) return std::move(ca).take_error();
      cfg.ca_pem = std::move(*ca);
    }
    cfg.insecure_skip_verify = cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();

    YAML::Node user = find_named("users", user_name, "user");
    if (user) {
      if (user["exec"] || user["auth-provider"]) {
        return bad("user \"" + user_name +
                   "\" uses an exec/auth-provider plugin, which is not supported; "
                   "use a token or a client certificate");
      }
      if (user["token"]) cfg.token = user["token"].as<std::string>();
      if (user["tokenFile"]) cfg.token_file = resolve(user["tokenFile"].as<std::string>());
      auto pem = [&](const char* data_key, const char* file_key, std::string& out) -> Result<void> {
        if (user[data_key]) {
          auto d = base64_decode(user[data_key].as<std::string>(), data_key);
          if (!d) return std::move(d).take_error();
          out = std::move(*d);
        } else if (user[file_key]) {
          auto d = read_file(resolve(user[file_key].as<std::string>()), file_key);
          if (!d) return std::move(d).take_error();
          out = std::move(*d);
        }
        return ok();
      };
      if (auto r = pem("client-certificate-data", "client-certificate", cfg.client_cert_pem); !r) {
        return std::move(r).take_error();
      }
      if (auto r = pem("client-key-data", "client-key", cfg.client_key_pem); !r) return std::move(r).take_error();
    }
    return cfg;
  } catch (const YAML::Exception& e) {
    return bad(e.what());
  }
}

Result<ClientConfig> discover_client_config(const Config& config, const EnvLookup& env) {
  if (!config.kubeconfig.empty()) return kubeconfig_config(config.kubeconfig);
  auto host = env("KUBERNETES_SERVICE_HOST");
  if (host && !host->empty()) return in_cluster_config(env);
  return Error("find the Kubernetes API", 0,
               "not in a cluster (KUBERNETES_SERVICE_HOST unset) and no --kubeconfig; "
               "use --kube-api=off with --pods-from to run without one");
}

Result<std::unique_ptr<Client>> Client::create(const ClientConfig& cfg) {
  std::unique_ptr<Client> c(new Client(cfg));
  if (auto r = c->init(); !r) return std::move(r).take_error();
  return c;
}

Client::Client(ClientConfig cfg) : cfg_(std::move(cfg)) {}
Client::~Client() = default;

Result<void> Client::init() {
  const std::string where = cfg_.host + ":" + std::to_string(cfg_.port);
  if (cfg_.scheme == "http") {
    http_ = std::make_unique<httplib::ClientImpl>(cfg_.host, cfg_.port);
  } else {
    std::unique_ptr<httplib::SSLClient> ssl;
    if (!cfg_.client_cert_pem.empty() || !cfg_.client_key_pem.empty()) {
      auto cb = mem_bio(cfg_.client_cert_pem);
      X509Ptr cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
      if (!cert) return Error("load client certificate", 0, cfg_.source + ": " + openssl_error());
      auto kb = mem_bio(cfg_.client_key_pem);
      PkeyPtr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
      if (!key) return Error("load client key", 0, cfg_.source + ": " + openssl_error());
      // SSL_CTX_use_certificate/PrivateKey take their own references; ours are released below.
      ssl = std::make_unique<httplib::SSLClient>(cfg_.host, cfg_.port, cert.get(), key.get());
    } else {
      ssl = std::make_unique<httplib::SSLClient>(cfg_.host, cfg_.port);
    }
    if (!ssl->is_valid()) return Error("create TLS client", 0, where + ": " + openssl_error());
    if (!cfg_.ca_pem.empty()) {
      X509_STORE* store = SSL_CTX_get_cert_store(ssl->ssl_context());
      auto bio = mem_bio(cfg_.ca_pem);
      int added = 0;
      while (X509Ptr ca{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
        if (X509_STORE_add_cert(store, ca.get()) == 1) ++added;
      }
      ERR_clear_error();  // the loop ends on "no start line"
      if (added == 0) return Error("load CA certificates", 0, cfg_.source + ": no PEM certificate found");
    } else if (!cfg_.insecure_skip_verify) {
      SSL_CTX_set_default_verify_paths(ssl->ssl_context());
    }
    ssl->enable_server_certificate_verification(!cfg_.insecure_skip_verify);
    http_ = std::move(ssl);
  }
  http_->set_connection_timeout(10, 0);
  http_->set_write_timeout(10, 0);
  http_->set_keep_alive(false);
  return ok();
}

Result<std::string> Client::bearer_token() const {
  if (!cfg_.token_file.empty()) {
    auto t = read_file(cfg_.token_file, "bearer token file");
    if (!t) return std::move(t).take_error();
    return trim(std::move(*t));
  }
  return cfg_.token;
}

Result<Client::Response> Client::get(const std::string& path_and_query, const DataSink& on_data,
                                     std::chrono::seconds read_timeout, const StatusSink& on_status) {
  httplib::Headers headers = {{"Accept", "application/json"},
                              {"User-Agent", std::string("netring-agent/") + NETRING_VERSION}};
  auto token = bearer_token();
  if (!token) return std::move(token).take_error();
  if (!token->empty()) headers.emplace("Authorization", "Bearer " + *token);
  http_->set_read_timeout(static_cast<time_t>(read_timeout.count()), 0);

  Response resp;
  bool aborted_by_sink = false;
  requests_.fetch_add(1, std::memory_order_relaxed);
  auto result = http_->Get(
      cfg_.path_prefix + path_and_query, headers,
      [&](const httplib::Response& r) {
        resp.status = r.status;
        uint64_t head = 17 + r.reason.size();  // "HTTP/1.1 200 " ... CRLF, and the blank line
        for (const auto& [k, v] : r.headers) head += k.size() + v.size() + 4;
        bytes_.fetch_add(head, std::memory_order_relaxed);
        if (on_status) on_status(r.status);
        return true;
      },
      [&](const char* data, size_t len) {
        bytes_.fetch_add(len, std::memory_order_relaxed);
        if (resp.status / 100 != 2) {
          size_t room = kMaxErrorBody - std::min(kMaxErrorBody, resp.error_body.size());
          resp.error_body.append(data, std::min(room, len));
          return true;
        }
        if (!on_data(std::string_view(data, len))) {
          aborted_by_sink = true;
          return false;
        }
        return true;
      });
  if (aborted_by_sink) return resp;
  if (!result) {
    httplib::Error err = result.error();
    std::string ctx = cfg_.host + ":" + std::to_string(cfg_.port) + path_and_query;
    std::string what = httplib::to_string(err);
    if (err == httplib::Error::SSLServerVerification) {
      auto* ssl = dynamic_cast<httplib::SSLClient*>(http_.get());
      long v = ssl ? ssl->get_openssl_verify_result() : 0;
      return Error("GET", 0,
                   ctx + ": TLS verification failed: " +
                       (v ? X509_verify_cert_error_string(v) : "server name does not match"))
          .with_hint("check the CA (" + cfg_.source + ")");
    }
    if (resp.status != 0 && err == httplib::Error::Canceled) return resp;
    return Error("GET", 0, ctx + ": " + what);
  }
  resp.status = result->status;
  return resp;
}

void Client::stop() {
  if (http_) http_->stop();
}

void Client::set_keep_alive(bool on) {
  http_->set_keep_alive(on);
}

}  // namespace netring::agent::k8s
