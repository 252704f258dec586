#include "tests/testing/fake_kube_api.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <chrono>
#include <stdexcept>

#include <httplib.h>

#include "tests/testing/base64.hpp"

namespace netring::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string list_kind(const std::string& resource) {
  if (resource == "pods") return "PodList";
  if (resource == "services") return "ServiceList";
  return "NodeList";
}
std::string object_kind(const std::string& resource) {
  if (resource == "pods") return "Pod";
  if (resource == "services") return "Service";
  return "Node";
}

std::string status_json(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
              {"status", "Failure"}, {"message", message}, {"reason", reason},
              {"code", code}}
      .dump();
}

template <class T, class F>
std::unique_ptr<T, F> own(T* p, F f) {
  return std::unique_ptr<T, F>(p, f);
}

}  // namespace

FakeKubeApi::FakeKubeApi(Options opts) : opts_(std::move(opts)) {
  KeyPair server_cert = opts_.cert_for_loopback
                            ? ca_.issue("kube-apiserver", {"localhost", "kubernetes.default.svc"}, {"127.0.0.1"})
                            : ca_.issue("kube-apiserver", {"kubernetes.default.svc"}, {"10.96.0.1"});
  server_ = std::make_unique<httplib::SSLServer>([this, server_cert](SSL_CTX& ctx) {
    auto cb = own(BIO_new_mem_buf(server_cert.cert_pem.data(), -1), BIO_free);
    auto cert = own(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr), X509_free);
    auto kb = own(BIO_new_mem_buf(server_cert.key_pem.data(), -1), BIO_free);
    auto key = own(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    if (!cert || !key) return false;
    if (SSL_CTX_use_certificate(&ctx, cert.get()) != 1 || SSL_CTX_use_PrivateKey(&ctx, key.get()) != 1) return false;
    if (opts_.require_client_cert) {
      auto ab = own(BIO_new_mem_buf(ca_.ca().cert_pem.data(), -1), BIO_free);
      auto ca = own(PEM_read_bio_X509(ab.get(), nullptr, nullptr, nullptr), X509_free);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(&ctx), ca.get());
      SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    return true;
  });
  if (!server_->is_valid()) throw std::runtime_error("FakeKubeApi: TLS server setup failed");
  serve();
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("FakeKubeApi: bind failed");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeKubeApi::~FakeKubeApi() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  server_->stop();
  thread_.join();
}

agent::k8s::ClientConfig FakeKubeApi::client_config() const {
  agent::k8s::ClientConfig c;
  c.host = "127.0.0.1";
  c.port = port_;
  c.ca_pem = ca_.ca().cert_pem;
  c.token = opts_.require_client_cert ? "" : opts_.token;
  c.source = "fake API server";
  return c;
}

std::string FakeKubeApi::key_of(const json& obj) {
  const json& m = obj.at("metadata");
  return m.value("namespace", "") + "/" + m.at("name").get<std::string>();
}

void FakeKubeApi::record_change(const std::string& resource, const std::string& type, json obj) {
  {
    std::lock_guard lock(mu_);
    obj["metadata"]["resourceVersion"] = std::to_string(++revision_);
    obj["kind"] = object_kind(resource);
    obj["apiVersion"] = "v1";
    std::string key = key_of(obj);
    events_.push_back({revision_, resource, type, obj.dump()});
    if (type == "DELETED") {
      objects_[resource].erase(key);
    } else {
      obj.erase("kind");
      obj.erase("apiVersion");
      objects_[resource][key] = Stored{obj.dump()};
    }
  }
  cv_.notify_all();
}

void FakeKubeApi::add(const std::string& resource, json obj) {
  record_change(resource, "ADDED", std::move(obj));
}
void FakeKubeApi::modify(const std::string& resource, json obj) {
  record_change(resource, "MODIFIED", std::move(obj));
}
void FakeKubeApi::remove(const std::string& resource, const std::string& ns, const std::string& name) {
  json obj;
  {
    std::lock_guard lock(mu_);
    auto& objs = objects_[resource];
    auto it = objs.find(ns + "/" + name);
    if (it == objs.end()) return;
    obj = json::parse(it->second.json);
  }
  record_change(resource, "DELETED", std::move(obj));
}

void FakeKubeApi::load(const std::string& resource, const std::vector<json>& objs) {
  std::lock_guard lock(mu_);
  for (json obj : objs) {
    obj["metadata"]["resourceVersion"] = std::to_string(++revision_);
    obj.erase("kind");
    obj.erase("apiVersion");
    objects_[resource][key_of(obj)] = Stored{obj.dump()};
  }
  // Bulk loads leave no history: as if etcd had compacted right after them.
  compacted_ = revision_;
  events_.clear();
}

void FakeKubeApi::bookmark() {
  {
    std::lock_guard lock(mu_);
    ++bookmark_gen_;
  }
  cv_.notify_all();
}

void FakeKubeApi::compact() {
  std::lock_guard lock(mu_);
  ++revision_;
  compacted_ = revision_;
  events_.clear();
}

void FakeKubeApi::stall_watches(bool on) {
  std::lock_guard lock(mu_);
  stall_ = on;
}

void FakeKubeApi::compact_after_next_page() {
  std::lock_guard lock(mu_);
  compact_after_page_ = true;
}

void FakeKubeApi::drop_watches() {
  {
    std::lock_guard lock(mu_);
    ++drop_gen_;
  }
  cv_.notify_all();
}

void FakeKubeApi::fail_next(int n, int status) {
  std::lock_guard lock(mu_);
  fail_count_ = n;
  fail_status_ = status;
}

uint64_t FakeKubeApi::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

std::vector<std::string> FakeKubeApi::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void FakeKubeApi::clear_requests() {
  std::lock_guard lock(mu_);
  requests_.clear();
}

int FakeKubeApi::open_watches(const std::string& resource) const {
  std::lock_guard lock(mu_);
  auto it = open_watches_.find(resource);
  return it == open_watches_.end() ? 0 : it->second;
}

int FakeKubeApi::max_open_watches(const std::string& resource) const {
  std::lock_guard lock(mu_);
  auto it = max_open_watches_.find(resource);
  return it == max_open_watches_.end() ? 0 : it->second;
}

void FakeKubeApi::serve() {
  server_->Get(R"(/api/v1/(pods|services|nodes))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string resource = req.matches[1];
    std::string query;
    for (const auto& [k, v] : req.params) query += (query.empty() ? "?" : "&") + k + "=" + v;

    std::unique_lock lock(mu_);
    requests_.push_back("GET " + req.path + query);
    bool authed = false;
    if (opts_.require_client_cert) {
      authed = req.ssl && SSL_get_verify_result(req.ssl) == X509_V_OK;
    } else {
      authed = req.get_header_value("Authorization") == "Bearer " + opts_.token;
    }
    if (!authed) {
      res.status = 401;
      res.set_content(status_json(401, "Unauthorized", "Unauthorized"), "application/json");
      return;
    }
    if (fail_count_ > 0) {
      --fail_count_;
      res.status = fail_status_;
      res.set_content(status_json(fail_status_, "InternalError", "injected failure"), "application/json");
      return;
    }

    const bool watch = req.get_param_value("watch") == "1" || req.get_param_value("watch") == "true";
    if (!watch) {
      size_t limit = req.has_param("limit") ? std::stoul(req.get_param_value("limit")) : 0;
      uint64_t list_rv = revision_;
      std::string start;
      if (req.has_param("continue")) {
        json tok = json::parse(unb64(req.get_param_value("continue")), nullptr, false);
        if (tok.is_discarded() || !tok.contains("rv")) {
          res.status = 400;
          res.set_content(status_json(400, "BadRequest", "continue key is not valid"), "application/json");
          return;
        }
        list_rv = tok["rv"].get<uint64_t>();
        start = tok["start"].get<std::string>();
        if (list_rv < compacted_) {
          res.status = 410;
          res.set_content(status_json(410, "Expired",
                                      "The provided continue parameter is too old to display a consistent list "
                                      "result. You can start a new list without the continue parameter."),
                          "application/json");
          return;
        }
      }
      const auto& objs = objects_[resource];
      auto it = objs.lower_bound(start);
      std::string body = "{\"apiVersion\":\"v1\",\"items\":[";
      size_t n = 0;
      for (; it != objs.end() && (limit == 0 || n < limit); ++it, ++n) {
        if (n) body += ',';
        body += it->second.json;
      }
      json meta = {{"resourceVersion", std::to_string(list_rv)}};
      if (it != objs.end()) {
        meta["continue"] = b64(json{{"v", "meta.k8s.io/v1"}, {"rv", list_rv}, {"start", it->first}}.dump());
        meta["remainingItemCount"] = std::distance(it, objs.end());
      }
      body += "],\"kind\":\"" + list_kind(resource) + "\",\"metadata\":" + meta.dump() + "}";
      res.set_content(body, "application/json");
      if (compact_after_page_) {
        compact_after_page_ = false;
        compacted_ = ++revision_;
        events_.clear();
      }
      return;
    }

    // Watch.
    std::string rv_param = req.get_param_value("resourceVersion");
    uint64_t from = rv_param.empty() || rv_param == "0" ? revision_ : std::stoull(rv_param);
    if (from < compacted_) {
      std::string msg = "too old resource version: " + rv_param + " (" + std::to_string(compacted_) + ")";
      if (opts_.gone_as_http_status) {
        res.status = 410;
        res.set_content(status_json(410, "Gone", msg), "application/json");
      } else {
        res.set_content(
            json{{"type", "ERROR"}, {"object", json::parse(status_json(410, "Expired", msg))}}.dump() + "\n",
            "application/json");
      }
      return;
    }
    struct State {
      std::string resource;
      uint64_t last;
      bool bookmarks;
      uint64_t bookmark_gen;
      uint64_t drop_gen;
      Clock::time_point deadline;
      bool stalled;
      std::string initial;  // ADDED events for a watch from "0"
    };
    auto st = std::make_shared<State>();
    st->resource = resource;
    st->last = from;
    st->bookmarks = req.get_param_value("allowWatchBookmarks") == "true";
    st->bookmark_gen = bookmark_gen_;
    st->drop_gen = drop_gen_;
    long timeout = req.has_param("timeoutSeconds") ? std::stol(req.get_param_value("timeoutSeconds")) : 1800;
    st->deadline = Clock::now() + std::chrono::seconds(timeout);
    st->stalled = stall_;
    if (rv_param.empty() || rv_param == "0") {
      for (const auto& [key, obj] : objects_[resource]) {
        json o = json::parse(obj.json);
        o["kind"] = object_kind(resource);
        o["apiVersion"] = "v1";
        st->initial += json{{"type", "ADDED"}, {"object", o}}.dump() + "\n";
      }
    }
    int& open = ++open_watches_[resource];
    max_open_watches_[resource] = std::max(max_open_watches_[resource], open);
    lock.unlock();

    res.set_chunked_content_provider(
        "application/json",
        [this, st](size_t, httplib::DataSink& sink) {
          std::unique_lock lk(mu_);
          std::string out = std::move(st->initial);
          st->initial.clear();
          while (true) {
            if (stopping_ || drop_gen_ != st->drop_gen) return false;  // cut: no terminating chunk
            if (st->stalled) {
              cv_.wait_for(lk, std::chrono::milliseconds(100));
              continue;
            }
            for (const Event& ev : events_) {
              if (ev.rv <= st->last || ev.resource != st->resource) continue;
              out += "{\"type\":\"" + ev.type + "\",\"object\":" + ev.object + "}\n";
              st->last = ev.rv;
            }
            if (st->bookmarks && bookmark_gen_ != st->bookmark_gen) {
              st->bookmark_gen = bookmark_gen_;
              json bm = {{"type", "BOOKMARK"},
                         {"object",
                          {{"kind", object_kind(st->resource)},
                           {"apiVersion", "v1"},
                           {"metadata", {{"resourceVersion", std::to_string(revision_)}}}}}};
              out += bm.dump() + "\n";
              st->last = std::max(st->last, revision_);
            }
            if (!out.empty()) break;
            auto now = Clock::now();
            if (now >= st->deadline) {
              lk.unlock();
              sink.done();
              return true;
            }
            cv_.wait_until(lk, std::min(st->deadline, now + std::chrono::milliseconds(100)));
          }
          lk.unlock();
          return sink.write(out.data(), out.size());
        },
        [this, resource](bool) {
          std::lock_guard lk(mu_);
          --open_watches_[resource];
        });
  });
}

}  // namespace netring::testing
