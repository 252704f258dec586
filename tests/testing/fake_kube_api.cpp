#include "tests/testing/fake_kube_api.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <httplib.h>

#include "tests/testing/base64.hpp"

namespace netring::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// A response body is handed to the connection in pieces of about this size.
constexpr size_t kChunk = 256 * 1024;

struct ResourceInfo {
  const char* name;
  const char* api_version;
  const char* kind;
  const char* list_kind;
  std::vector<std::string> selectable;  // field selectors the API accepts for it
};

const ResourceInfo* resource_info(const std::string& r) {
  // pkg/apis/core/v1/conversion.go (pods, nodes) and the generic
  // metadata.name/metadata.namespace of every other resource.
  static const ResourceInfo kResources[] = {
      {"pods",
       "v1",
       "Pod",
       "PodList",
       {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
        "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}},
      {"services", "v1", "Service", "ServiceList", {"metadata.name", "metadata.namespace"}},
      {"nodes", "v1", "Node", "NodeList", {"metadata.name", "spec.unschedulable"}},
      {"endpointslices",
       "discovery.k8s.io/v1",
       "EndpointSlice",
       "EndpointSliceList",
       {"metadata.name", "metadata.namespace"}},
  };
  for (const auto& i : kResources) {
    if (r == i.name) return &i;
  }
  return nullptr;
}

std::string status_json(int code, const std::string& reason, const std::string& message,
                        const json& details = nullptr) {
  json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (!details.is_null()) s["details"] = details;
  return s.dump();
}

// One ListOptions validation error, as field.ErrorList renders it.
struct Cause {
  std::string field;
  std::string reason;  // FieldValueForbidden, FieldValueNotSupported
  std::string detail;  // "Forbidden: ..." / "Unsupported value: ..."
};

std::string invalid_list_options(const std::vector<Cause>& causes) {
  json c = json::array();
  std::string joined;
  for (size_t i = 0; i < causes.size(); ++i) {
    c.push_back({{"reason", causes[i].reason}, {"message", causes[i].detail}, {"field", causes[i].field}});
    joined += (i ? ", " : "") + causes[i].field + ": " + causes[i].detail;
  }
  std::string message = "ListOptions.meta.k8s.io \"\" is invalid: " + (causes.size() > 1 ? "[" + joined + "]" : joined);
  return status_json(422, "Invalid", message, {{"group", "meta.k8s.io"}, {"kind", "ListOptions"}, {"causes", c}});
}

Cause forbidden(const std::string& field, const std::string& why) {
  return {field, "FieldValueForbidden", "Forbidden: " + why};
}

template <class T, class F>
std::unique_ptr<T, F> own(T* p, F f) {
  return std::unique_ptr<T, F>(p, f);
}

// The object as a watch event carries it: with kind and apiVersion.
std::string with_kind(const ResourceInfo& ri, const std::string& item) {
  return std::string("{\"apiVersion\":\"") + ri.api_version + "\",\"kind\":\"" + ri.kind + "\"," + item.substr(1);
}

// `item` with its resourceVersion replaced (a DELETED event for an object
// leaving a selector carries its old state at the event's version).
std::string with_rv(const std::string& item, const std::string& old_rv, uint64_t rv) {
  std::string needle = "\"resourceVersion\":\"" + old_rv + "\"";
  size_t at = item.find(needle);
  if (at == std::string::npos) return item;
  return item.substr(0, at) + "\"resourceVersion\":\"" + std::to_string(rv) + "\"" + item.substr(at + needle.size());
}

std::string bookmark_line(const ResourceInfo& ri, uint64_t rv, bool initial_events_end) {
  json meta = {{"resourceVersion", std::to_string(rv)}};
  if (initial_events_end) meta["annotations"] = {{"k8s.io/initial-events-end", "true"}};
  return json{{"type", "BOOKMARK"}, {"object", {{"kind", ri.kind}, {"apiVersion", ri.api_version}, {"metadata", meta}}}}
             .dump() +
         "\n";
}

void add_field(Attrs& a, const char* name, const json& obj, std::initializer_list<const char*> path) {
  const json* cur = &obj;
  for (const char* p : path) {
    if (!cur->is_object() || !cur->contains(p)) {
      a.emplace_back(name, "");
      return;
    }
    cur = &(*cur)[p];
  }
  if (cur->is_string())
    a.emplace_back(name, cur->get<std::string>());
  else if (cur->is_boolean())
    a.emplace_back(name, cur->get<bool>() ? "true" : "false");
  else
    a.emplace_back(name, "");
}

// Accept negotiation: empty when JSON will do, else the 406 message.
std::string negotiate(const std::string& accept) {
  if (accept.empty()) return "";
  std::string unimplemented;
  size_t pos = 0;
  while (pos <= accept.size()) {
    size_t comma = accept.find(',', pos);
    std::string range = accept.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? accept.size() + 1 : comma + 1;
    auto trim = [](std::string s) {
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
      return s;
    };
    range = trim(range);
    std::string media = trim(range.substr(0, range.find(';')));
    std::transform(media.begin(), media.end(), media.begin(), [](unsigned char c) { return std::tolower(c); });
    bool has_as = range.find("as=") != std::string::npos;
    if (media == "application/json" || media == "application/*" || media == "*/*") {
      if (!has_as) return "";
      if (unimplemented.empty()) unimplemented = range;  // a Table / PartialObjectMetadata conversion
    } else if (media == "application/yaml" || media == "application/vnd.kubernetes.protobuf") {
      if (unimplemented.empty()) unimplemented = range;
    }
  }
  if (!unimplemented.empty())
    return "the fake API server (tests) does not implement \"" + unimplemented + "\", which the real one serves";
  return "only the following media types are accepted: application/json, application/yaml, "
         "application/vnd.kubernetes.protobuf";
}

}  // namespace

// A request's collection, selectors and options, parsed.
struct FakeKubeApi::Query {
  std::string resource;
  const ResourceInfo* ri = nullptr;
  FieldSelector fields;
  LabelSelector labels;
  bool matches(const Stored& s) const { return fields.matches(s.fields) && labels.matches(s.labels); }
};

// An open watch.
struct FakeKubeApi::WatchState {
  Query q;
  uint64_t last = 0;  // events up to here were delivered
  bool bookmarks = false;
  uint64_t bookmark_gen = 0;
  uint64_t drop_gen = 0;
  Clock::time_point deadline;
  bool stalled = false;
  std::vector<StoredPtr> initial;  // the state to send first as ADDED events
  size_t initial_sent = 0;
  bool end_bookmark = false;  // then the initial-events-end BOOKMARK at `last`
};

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
  const size_t threads = std::max<size_t>(opts_.threads, 8);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
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

FakeKubeApi::StoredPtr FakeKubeApi::make_stored(const std::string& resource, json obj) const {
  obj.erase("kind");
  obj.erase("apiVersion");
  auto s = std::make_shared<Stored>();
  const json& meta = obj["metadata"];
  s->rv = meta.value("resourceVersion", "");
  add_field(s->fields, "metadata.name", obj, {"metadata", "name"});
  add_field(s->fields, "metadata.namespace", obj, {"metadata", "namespace"});
  if (resource == "pods") {
    add_field(s->fields, "spec.nodeName", obj, {"spec", "nodeName"});
    add_field(s->fields, "spec.restartPolicy", obj, {"spec", "restartPolicy"});
    add_field(s->fields, "spec.schedulerName", obj, {"spec", "schedulerName"});
    add_field(s->fields, "spec.serviceAccountName", obj, {"spec", "serviceAccountName"});
    add_field(s->fields, "spec.hostNetwork", obj, {"spec", "hostNetwork"});
    if (s->fields.back().second.empty()) s->fields.back().second = "false";
    add_field(s->fields, "status.phase", obj, {"status", "phase"});
    add_field(s->fields, "status.podIP", obj, {"status", "podIP"});
    add_field(s->fields, "status.nominatedNodeName", obj, {"status", "nominatedNodeName"});
  } else if (resource == "nodes") {
    add_field(s->fields, "spec.unschedulable", obj, {"spec", "unschedulable"});
    if (s->fields.back().second.empty()) s->fields.back().second = "false";
  }
  if (meta.contains("labels") && meta["labels"].is_object()) {
    for (const auto& [k, v] : meta["labels"].items()) {
      if (v.is_string()) s->labels.emplace_back(k, v.get<std::string>());
    }
  }
  s->json = obj.dump();
  return s;
}

void FakeKubeApi::put_locked(const std::string& resource, const std::string& key, StoredPtr s) {
  auto& objs = objects_[resource];
  if (resource == "pods") {
    if (auto it = objs.find(key); it != objs.end()) {
      if (const std::string* n = attr(it->second->fields, "spec.nodeName")) pods_by_node_[*n].erase(key);
    }
    if (const std::string* n = attr(s->fields, "spec.nodeName")) pods_by_node_[*n].insert(key);
  }
  objs[key] = std::move(s);
}

void FakeKubeApi::erase_locked(const std::string& resource, const std::string& key) {
  auto& objs = objects_[resource];
  auto it = objs.find(key);
  if (it == objs.end()) return;
  if (resource == "pods") {
    if (const std::string* n = attr(it->second->fields, "spec.nodeName")) pods_by_node_[*n].erase(key);
  }
  objs.erase(it);
}

void FakeKubeApi::trim_history_locked() {
  if (opts_.max_history == 0) return;
  while (events_.size() > opts_.max_history) {
    compacted_ = events_.front().rv;
    events_.pop_front();
  }
}

void FakeKubeApi::record_change(const std::string& resource, const std::string& type, json obj) {
  {
    std::lock_guard lock(mu_);
    obj["metadata"]["resourceVersion"] = std::to_string(++revision_);
    std::string key = key_of(obj);
    StoredPtr cur = make_stored(resource, std::move(obj));
    StoredPtr prev;
    if (auto it = objects_[resource].find(key); it != objects_[resource].end()) prev = it->second;
    events_.push_back({revision_, resource, type, cur, prev});
    if (type == "DELETED")
      erase_locked(resource, key);
    else
      put_locked(resource, key, cur);
    trim_history_locked();
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
    obj = json::parse(it->second->json);
  }
  record_change(resource, "DELETED", std::move(obj));
}

void FakeKubeApi::load(const std::string& resource, const std::vector<json>& objs) {
  std::vector<StoredPtr> made;
  made.reserve(objs.size());
  std::vector<std::string> keys;
  keys.reserve(objs.size());
  uint64_t rv;
  {
    std::lock_guard lock(mu_);
    rv = revision_;
    revision_ += objs.size();
  }
  // Serialized outside the lock: a large load must not stall the server.
  for (json obj : objs) {
    obj["metadata"]["resourceVersion"] = std::to_string(++rv);
    keys.push_back(key_of(obj));
    made.push_back(make_stored(resource, std::move(obj)));
  }
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < made.size(); ++i) put_locked(resource, keys[i], std::move(made[i]));
  // Bulk loads leave no history: as if etcd had compacted right after them.
  compacted_ = revision_;
  events_.clear();
}

json FakeKubeApi::get(const std::string& resource, const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto r = objects_.find(resource);
  if (r == objects_.end()) return nullptr;
  auto it = r->second.find(ns + "/" + name);
  if (it == r->second.end()) return nullptr;
  return json::parse(it->second->json);
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

void FakeKubeApi::delay_responses(std::chrono::milliseconds d) {
  delay_ms_.store(d.count());
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

std::vector<FakeKubeApi::StoredPtr> FakeKubeApi::select_locked(const Query& q, const std::string& start, size_t limit,
                                                               std::string* next_key, size_t* remaining) {
  std::vector<StoredPtr> out;
  const auto& objs = objects_[q.resource];
  auto take = [&](const StoredPtr& s) { return q.matches(*s); };
  if (q.resource == "pods") {
    if (auto node = q.fields.exact("spec.nodeName")) {
      // The watch cache's spec.nodeName index: only that node's pods are looked at.
      auto keys = pods_by_node_.find(*node);
      if (keys == pods_by_node_.end()) return out;
      for (auto k = keys->second.lower_bound(start); k != keys->second.end(); ++k) {
        ++examined_;
        const StoredPtr& s = objs.at(*k);
        if (!take(s)) continue;
        if (limit && out.size() == limit) {
          if (next_key) *next_key = *k;
          if (remaining) *remaining = 1;
          return out;
        }
        out.push_back(s);
      }
      return out;
    }
  }
  for (auto it = objs.lower_bound(start); it != objs.end(); ++it) {
    ++examined_;
    if (!take(it->second)) continue;
    if (limit && out.size() == limit) {
      if (next_key) *next_key = it->first;
      if (remaining) {
        *remaining = 0;
        for (auto r = it; r != objs.end(); ++r) *remaining += q.matches(*r->second);
      }
      return out;
    }
    out.push_back(it->second);
  }
  return out;
}

void FakeKubeApi::serve() {
  server_->set_keep_alive_timeout(30);
  server_->set_keep_alive_max_count(1000);
  auto handler = [this](const httplib::Request& req, httplib::Response& res, const std::string& resource) {
    // Before the lock: a slow answer holds its own connection, not the others.
    if (int64_t d = delay_ms_.load(); d > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d));
    std::string query;
    for (const auto& [k, v] : req.params) query += (query.empty() ? "?" : "&") + k + "=" + v;
    auto reply = [&](int code, const std::string& body) {
      res.status = code;
      bytes_sent_ += body.size();
      res.set_content(body, "application/json");
    };

    std::unique_lock lock(mu_);
    if (opts_.log_requests && requests_.size() < 200'000) requests_.push_back("GET " + req.path + query);
    bool authed = false;
    if (opts_.require_client_cert) {
      authed = req.ssl && SSL_get_verify_result(req.ssl) == X509_V_OK;
    } else {
      authed = req.get_header_value("Authorization") == "Bearer " + opts_.token;
    }
    if (!authed) return reply(401, status_json(401, "Unauthorized", "Unauthorized"));
    if (opts_.forbidden.count(resource)) {
      const ResourceInfo& ri = *resource_info(resource);
      std::string group = std::string(ri.api_version).find('/') == std::string::npos
                              ? ""
                              : std::string(ri.api_version).substr(0, std::string(ri.api_version).find('/'));
      std::string verb =
          req.get_param_value("watch") == "1" || req.get_param_value("watch") == "true" ? "watch" : "list";
      return reply(403,
                   status_json(403, "Forbidden",
                               resource + (group.empty() ? "" : "." + group) +
                                   " is forbidden: User \"system:serviceaccount:netring:netring\" cannot " + verb +
                                   " resource \"" + resource + "\" in API group \"" + group + "\" at the cluster scope",
                               {{"group", group}, {"kind", resource}}));
    }
    if (fail_count_ > 0) {
      --fail_count_;
      return reply(fail_status_, status_json(fail_status_, "InternalError", "injected failure"));
    }
    if (std::string why = negotiate(req.get_header_value("Accept")); !why.empty())
      return reply(406, status_json(406, "NotAcceptable", why));

    Query q;
    q.resource = resource;
    q.ri = resource_info(resource);
    std::string error;
    auto fs = FieldSelector::parse(req.get_param_value("fieldSelector"), q.ri->selectable, error);
    if (!fs) return reply(400, status_json(400, "BadRequest", error));
    q.fields = std::move(*fs);
    auto ls = LabelSelector::parse(req.get_param_value("labelSelector"), error);
    if (!ls) return reply(400, status_json(400, "BadRequest", error));
    q.labels = std::move(*ls);

    auto flag = [&](const char* name) -> std::optional<bool> {
      if (!req.has_param(name)) return std::nullopt;
      std::string v = req.get_param_value(name);
      return v == "true" || v == "1";
    };
    const bool watch = flag("watch").value_or(false);
    const std::string rv_param = req.get_param_value("resourceVersion");
    const std::string match = req.get_param_value("resourceVersionMatch");
    const std::optional<bool> send_initial = flag("sendInitialEvents");
    const bool has_continue = req.has_param("continue");

    // ListOptions validation (apimachinery/pkg/apis/meta/internalversion/validation).
    std::vector<Cause> causes;
    if (!watch) {
      if (!match.empty()) {
        if (rv_param.empty())
          causes.push_back(forbidden("resourceVersionMatch",
                                     "resourceVersionMatch is forbidden unless resourceVersion is provided"));
        if (has_continue)
          causes.push_back(
              forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
        if (match != "Exact" && match != "NotOlderThan")
          causes.push_back({"resourceVersionMatch", "FieldValueNotSupported",
                            "Unsupported value: \"" + match + "\": supported values: \"Exact\", \"NotOlderThan\""});
        if (match == "Exact" && rv_param == "0")
          causes.push_back(forbidden("resourceVersionMatch",
                                     "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
      }
      if (send_initial) causes.push_back(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
    } else {
      if (send_initial) {
        if (match != "NotOlderThan")
          causes.push_back(forbidden("resourceVersionMatch",
                                     "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
        if (!opts_.watch_list)
          causes.push_back(forbidden("sendInitialEvents",
                                     "sendInitialEvents is forbidden for watch unless the WatchList feature gate is "
                                     "enabled"));
      }
      if (!match.empty()) {
        if (!send_initial)
          causes.push_back(
              forbidden("resourceVersionMatch",
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
        if (match != "NotOlderThan")
          causes.push_back({"resourceVersionMatch", "FieldValueNotSupported",
                            "Unsupported value: \"" + match + "\": supported values: \"NotOlderThan\""});
        if (has_continue)
          causes.push_back(
              forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
      }
    }
    if (!causes.empty()) return reply(422, invalid_list_options(causes));

    uint64_t rv_num = 0;
    if (!rv_param.empty()) {
      try {
        size_t used = 0;
        rv_num = std::stoull(rv_param, &used);
        if (used != rv_param.size()) throw std::invalid_argument("junk");
      } catch (const std::exception&) {
        return reply(400, status_json(400, "BadRequest", "invalid resource version \"" + rv_param + "\""));
      }
    }
    // A version the cache has not reached yet: the server waits 3 s, then gives up.
    if (rv_num > revision_ && (watch ? match == "NotOlderThan" : (match != "Exact" && rv_num != 0))) {
      return reply(504,
                   status_json(504, "Timeout",
                               "Too large resource version: " + rv_param + ", current: " + std::to_string(revision_)));
    }

    if (!watch) {
      size_t limit = 0;
      if (req.has_param("limit")) {
        try {
          limit = std::stoul(req.get_param_value("limit"));
        } catch (const std::exception&) {
          return reply(400, status_json(400, "BadRequest", "invalid limit"));
        }
      }
      uint64_t list_rv = revision_;
      std::string start;
      if (has_continue) {
        if (!rv_param.empty() && rv_param != "0")
          return reply(
              400, status_json(400, "BadRequest", "specifying resource version is not allowed when using continue"));
        json tok = json::parse(unb64(req.get_param_value("continue")), nullptr, false);
        if (tok.is_discarded() || !tok.contains("rv") || !tok.contains("start"))
          return reply(400, status_json(400, "BadRequest", "continue key is not valid"));
        list_rv = tok["rv"].get<uint64_t>();
        start = tok["start"].get<std::string>();
        if (list_rv < compacted_) {
          return reply(410, status_json(410, "Expired",
                                        "The provided continue parameter is too old to display a consistent list "
                                        "result. You can start a new list without the continue parameter."));
        }
      } else if (rv_num != 0 && (match == "Exact" || (match.empty() && limit > 0))) {
        // An exact version comes from etcd, which forgets what it compacted.
        if (rv_num < compacted_)
          return reply(410, status_json(410, "Expired", "The resourceVersion for the provided list is too old."));
      }
      // resourceVersion=0 is answered from the watch cache, which ignores limit.
      if (rv_param == "0" && !has_continue) limit = 0;
      std::string next_key;
      size_t remaining = 0;
      auto items = select_locked(q, start, limit, &next_key, &remaining);
      json meta = {{"resourceVersion", std::to_string(list_rv)}};
      if (!next_key.empty()) {
        meta["continue"] = b64(json{{"v", "meta.k8s.io/v1"}, {"rv", list_rv}, {"start", next_key}}.dump());
        meta["remainingItemCount"] = remaining;
      }
      if (compact_after_page_) {
        compact_after_page_ = false;
        compacted_ = ++revision_;
        events_.clear();
      }
      lock.unlock();
      struct Body {
        std::vector<StoredPtr> items;
        std::string head, tail;
        size_t next = 0;
        bool head_sent = false;
      };
      auto body = std::make_shared<Body>();
      body->items = std::move(items);
      body->head = std::string("{\"apiVersion\":\"") + q.ri->api_version + "\",\"items\":[";
      body->tail = std::string("],\"kind\":\"") + q.ri->list_kind + "\",\"metadata\":" + meta.dump() + "}";
      res.set_chunked_content_provider("application/json", [this, body](size_t, httplib::DataSink& sink) {
        std::string out;
        if (!body->head_sent) {
          out = body->head;
          body->head_sent = true;
        }
        while (body->next < body->items.size() && out.size() < kChunk) {
          if (body->next) out += ',';
          out += body->items[body->next++]->json;
        }
        if (body->next == body->items.size()) out += body->tail;
        bytes_sent_ += out.size();
        if (!sink.write(out.data(), out.size())) return false;
        if (body->next == body->items.size()) sink.done();
        return true;
      });
      return;
    }

    // Watch.
    auto st = std::make_shared<WatchState>();
    st->q = std::move(q);
    st->bookmarks = flag("allowWatchBookmarks").value_or(false);
    st->bookmark_gen = bookmark_gen_;
    st->drop_gen = drop_gen_;
    long timeout = 1800;
    if (req.has_param("timeoutSeconds")) {
      try {
        timeout = std::stol(req.get_param_value("timeoutSeconds"));
      } catch (const std::exception&) {
        return reply(400, status_json(400, "BadRequest", "invalid timeoutSeconds"));
      }
    }
    st->deadline = Clock::now() + std::chrono::seconds(timeout);
    st->stalled = stall_;
    const bool initial = send_initial ? *send_initial : (rv_param.empty() || rv_param == "0");
    if (initial) {
      // The current state as ADDED events, then the changes after it.
      st->initial = select_locked(st->q, "", 0, nullptr, nullptr);
      st->last = revision_;
      st->end_bookmark = send_initial.value_or(false) && st->bookmarks;
    } else if (rv_num == 0) {
      st->last = revision_;  // sendInitialEvents=false without a version: from now
    } else {
      st->last = rv_num;
      if (rv_num < compacted_) {
        std::string msg = "too old resource version: " + rv_param + " (" + std::to_string(compacted_) + ")";
        if (opts_.gone_as_http_status) return reply(410, status_json(410, "Gone", msg));
        return reply(200,
                     json{{"type", "ERROR"}, {"object", json::parse(status_json(410, "Expired", msg))}}.dump() + "\n");
      }
    }
    int& open = ++open_watches_[resource];
    max_open_watches_[resource] = std::max(max_open_watches_[resource], open);
    lock.unlock();

    res.set_chunked_content_provider(
        "application/json",
        [this, st](size_t, httplib::DataSink& sink) {
          const ResourceInfo& ri = *st->q.ri;
          std::string out;
          std::unique_lock lk(mu_);
          while (true) {
            if (stopping_ || drop_gen_ != st->drop_gen) return false;  // cut: no terminating chunk
            if (st->stalled) {
              cv_.wait_for(lk, std::chrono::milliseconds(100));
              continue;
            }
            if (st->initial_sent < st->initial.size()) {
              while (st->initial_sent < st->initial.size() && out.size() < kChunk) {
                out += "{\"type\":\"ADDED\",\"object\":" + with_kind(ri, st->initial[st->initial_sent++]->json) + "}\n";
                ++events_sent_;
              }
              if (st->initial_sent == st->initial.size()) std::vector<StoredPtr>().swap(st->initial);
              break;
            }
            if (st->end_bookmark) {
              st->end_bookmark = false;
              out += bookmark_line(ri, st->last, true);
              break;
            }
            if (st->last < compacted_) {
              // The history this watch still needed is gone.
              out += json{{"type", "ERROR"},
                          {"object", json::parse(status_json(410, "Expired",
                                                             "too old resource version: " + std::to_string(st->last) +
                                                                 " (" + std::to_string(compacted_) + ")"))}}
                         .dump() +
                     "\n";
              lk.unlock();
              bytes_sent_ += out.size();
              sink.write(out.data(), out.size());
              sink.done();
              return true;
            }
            auto it = std::upper_bound(events_.begin(), events_.end(), st->last,
                                       [](uint64_t rv, const Event& e) { return rv < e.rv; });
            for (; it != events_.end() && out.size() < kChunk; ++it) {
              const Event& ev = *it;
              st->last = ev.rv;
              if (ev.resource != st->q.resource) continue;
              // cache_watcher.go: an object entering the selection is ADDED,
              // one leaving it DELETED with its previous state.
              bool cur = ev.type != "DELETED" && st->q.matches(*ev.cur);
              bool prev = ev.prev && st->q.matches(*ev.prev);
              if (ev.type == "DELETED") prev = st->q.matches(*ev.cur);
              std::string type, obj;
              if (cur && !prev) {
                type = "ADDED";
                obj = ev.cur->json;
              } else if (cur && prev) {
                type = ev.type;
                obj = ev.cur->json;
              } else if (!cur && prev) {
                type = "DELETED";
                obj = ev.type == "DELETED" ? ev.cur->json : with_rv(ev.prev->json, ev.prev->rv, ev.rv);
              } else {
                continue;
              }
              out += "{\"type\":\"" + type + "\",\"object\":" + with_kind(ri, obj) + "}\n";
              ++events_sent_;
            }
            if (st->bookmarks && bookmark_gen_ != st->bookmark_gen) {
              st->bookmark_gen = bookmark_gen_;
              st->last = std::max(st->last, revision_);
              out += bookmark_line(ri, st->last, false);
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
          bytes_sent_ += out.size();
          return sink.write(out.data(), out.size());
        },
        [this, resource](bool) {
          std::lock_guard lk(mu_);
          --open_watches_[resource];
        });
  };
  server_->Get(R"(/api/v1/(pods|services|nodes))",
               [handler](const httplib::Request& req, httplib::Response& res) { handler(req, res, req.matches[1]); });
  server_->Get(R"(/apis/discovery\.k8s\.io/v1/endpointslices)",
               [handler](const httplib::Request& req, httplib::Response& res) { handler(req, res, "endpointslices"); });
}

}  // namespace netring::testing
