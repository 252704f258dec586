#include "agent/k8s/sax.hpp"

#include <array>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace netring::agent::k8s {
namespace {

using json = nlohmann::json;

// Scalars extracted from an object, by path relative to the object's root.
// "[]" stands for any array element.
enum class F : uint8_t {
  kKind,
  kName,
  kNamespace,
  kUid,
  kResourceVersion,
  kDeletionTimestamp,
  kPodTemplateHash,
  kOwnerKind,
  kOwnerName,
  kOwnerController,
  kNodeName,
  kHostNetwork,
  kPhase,
  kPodIP,
  kPodIPsIp,
  kHostIP,
  kServiceType,
  kClusterIP,
  kClusterIPs,
  kPortProtocol,
  kPortPort,
  kPortNodePort,
  kAddressType,
  kAddressAddress,
  kPodCIDR,
  kPodCIDRs,
  kInitialEventsEnd,
  kServiceName,
  kSliceAddressType,
  kEndpointAddress,
  kEndpointTargetKind,
  kCode,
  kReason,
  kMessage,
};

// Objects inside an object that start a new list element.
enum class Elem : uint8_t { kOwner, kPodIP, kPort, kAddress, kEndpoint };

const std::unordered_map<std::string_view, F>& scalar_fields() {
  static const std::unordered_map<std::string_view, F> m = {
      {"/kind", F::kKind},
      {"/metadata/name", F::kName},
      {"/metadata/namespace", F::kNamespace},
      {"/metadata/uid", F::kUid},
      {"/metadata/resourceVersion", F::kResourceVersion},
      {"/metadata/deletionTimestamp", F::kDeletionTimestamp},
      {"/metadata/labels/pod-template-hash", F::kPodTemplateHash},
      {"/metadata/ownerReferences/[]/kind", F::kOwnerKind},
      {"/metadata/ownerReferences/[]/name", F::kOwnerName},
      {"/metadata/ownerReferences/[]/controller", F::kOwnerController},
      {"/spec/nodeName", F::kNodeName},
      {"/spec/hostNetwork", F::kHostNetwork},
      {"/status/phase", F::kPhase},
      {"/status/podIP", F::kPodIP},
      {"/status/podIPs/[]/ip", F::kPodIPsIp},
      {"/status/hostIP", F::kHostIP},
      {"/spec/type", F::kServiceType},
      {"/spec/clusterIP", F::kClusterIP},
      {"/spec/clusterIPs/[]", F::kClusterIPs},
      {"/spec/ports/[]/protocol", F::kPortProtocol},
      {"/spec/ports/[]/port", F::kPortPort},
      {"/spec/ports/[]/nodePort", F::kPortNodePort},
      {"/status/addresses/[]/type", F::kAddressType},
      {"/status/addresses/[]/address", F::kAddressAddress},
      {"/spec/podCIDR", F::kPodCIDR},
      {"/spec/podCIDRs/[]", F::kPodCIDRs},
      // The annotation key holds a "/": the path is still unambiguous.
      {"/metadata/annotations/k8s.io/initial-events-end", F::kInitialEventsEnd},
      {"/metadata/labels/kubernetes.io/service-name", F::kServiceName},
      {"/addressType", F::kSliceAddressType},
      {"/endpoints/[]/addresses/[]", F::kEndpointAddress},
      {"/endpoints/[]/targetRef/kind", F::kEndpointTargetKind},
      {"/code", F::kCode},
      {"/reason", F::kReason},
      {"/message", F::kMessage},
  };
  return m;
}

const std::unordered_map<std::string_view, Elem>& element_starts() {
  static const std::unordered_map<std::string_view, Elem> m = {
      {"/metadata/ownerReferences/[]", Elem::kOwner},
      {"/status/podIPs/[]", Elem::kPodIP},
      {"/spec/ports/[]", Elem::kPort},
      {"/status/addresses/[]", Elem::kAddress},
      {"/endpoints/[]", Elem::kEndpoint},
  };
  return m;
}

void set_capped(std::string& dst, const std::string& v, size_t cap) {
  dst.assign(v, 0, std::min(v.size(), cap));
}

// A scalar as the handler sees it: strings, integers and booleans are all
// the API sends for the fields above.
struct Scalar {
  const std::string* s = nullptr;
  int64_t i = 0;
  bool is_int = false;
  bool b = false;
  bool is_bool = false;
};

class Handler : public nlohmann::json_sax<json> {
 public:
  // object_root: path of the objects to extract ("/items/[]" or "/object").
  Handler(std::string object_root, const ItemSink* sink) : root_(std::move(object_root)), sink_(sink) {}

  ListInfo list;
  std::string event_type;
  Object single;  // the object at root_ when there is no sink (watch events)
  bool saw_object = false;
  std::string error;

  bool null() override { return true; }
  bool boolean(bool v) override {
    Scalar s;
    s.b = v;
    s.is_bool = true;
    return scalar(s);
  }
  bool number_integer(number_integer_t v) override {
    Scalar s;
    s.i = v;
    s.is_int = true;
    return scalar(s);
  }
  bool number_unsigned(number_unsigned_t v) override {
    Scalar s;
    s.i = v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
    s.is_int = true;
    return scalar(s);
  }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t& v) override {
    Scalar s;
    s.s = &v;
    return scalar(s);
  }
  bool binary(binary_t&) override { return true; }

  bool start_object(std::size_t) override {
    push();
    if (path_ == root_) {
      cur_ = Object{};
      in_object_ = true;
      skip_.fill(false);
    } else if (in_object_) {
      auto it = element_starts().find(rel(path_));
      if (it != element_starts().end()) start_element(it->second);
    }
    return true;
  }
  bool end_object() override {
    if (in_object_ && path_ == root_) {
      in_object_ = false;
      if (sink_) {
        ++list.items;
        (*sink_)(std::move(cur_));
      } else {
        single = std::move(cur_);
        saw_object = true;
      }
    }
    pop();
    return true;
  }
  bool start_array(std::size_t) override {
    push();
    arrays_.back() = true;  // children of this frame are "[]"
    return true;
  }
  bool end_array() override {
    pop();
    return true;
  }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    error = ex.what();
    return false;
  }

 private:
  const std::string& component() const {
    static const std::string kElem = "[]";
    return !arrays_.empty() && arrays_.back() ? kElem : key_;
  }
  void push() {
    bool array_parent = !arrays_.empty() && arrays_.back();
    bool root = lens_.empty();
    lens_.push_back(path_.size());
    if (!root) {  // the document's root value has the empty path
      path_ += '/';
      path_ += array_parent ? std::string_view("[]") : std::string_view(key_);
    }
    arrays_.push_back(false);
  }
  void pop() {
    path_.resize(lens_.back());
    lens_.pop_back();
    arrays_.pop_back();
  }
  std::string_view rel(std::string_view full) const { return full.substr(root_.size()); }

  void start_element(Elem e) {
    switch (e) {
      case Elem::kOwner:
        skip_[0] = cur_.owners.size() >= kMaxListEntries;
        if (!skip_[0]) cur_.owners.emplace_back();
        break;
      case Elem::kPodIP:
        skip_[1] = cur_.pod_ips.size() >= kMaxListEntries;
        if (!skip_[1]) cur_.pod_ips.emplace_back();
        break;
      case Elem::kPort:
        skip_[2] = cur_.ports.size() >= kMaxPorts;
        if (!skip_[2]) cur_.ports.emplace_back();
        break;
      case Elem::kAddress:
        skip_[3] = cur_.addresses.size() >= kMaxListEntries;
        if (!skip_[3]) cur_.addresses.emplace_back();
        break;
      case Elem::kEndpoint:
        skip_[4] = cur_.endpoints.size() >= kMaxEndpoints;
        if (!skip_[4]) cur_.endpoints.emplace_back();
        break;
    }
  }

  bool scalar(const Scalar& v) {
    scratch_.assign(path_);
    scratch_ += '/';
    scratch_ += component();
    if (in_object_) {
      auto it = scalar_fields().find(rel(scratch_));
      if (it != scalar_fields().end()) object_field(it->second, v);
    } else if (scratch_.size() >= 2) {
      document_field(v);
    }
    return true;
  }

  void document_field(const Scalar& v) {
    std::string_view p = scratch_;
    if (v.s) {
      if (p == "/kind")
        set_capped(list.kind, *v.s, kMaxShortLen);
      else if (p == "/metadata/resourceVersion")
        set_capped(list.resource_version, *v.s, kMaxShortLen);
      else if (p == "/metadata/continue")
        set_capped(list.continue_token, *v.s, kMaxContinueLen);
      else if (p == "/reason")
        set_capped(list.status.reason, *v.s, kMaxShortLen);
      else if (p == "/message")
        set_capped(list.status.message, *v.s, kMaxMessageLen);
      else if (p == "/type")
        set_capped(event_type, *v.s, kMaxShortLen);
    } else if (v.is_int && p == "/code") {
      list.status.code = v.i;
    }
  }

  void object_field(F f, const Scalar& v) {
    Object& o = cur_;
    if (v.s) {
      const std::string& s = *v.s;
      switch (f) {
        case F::kKind: set_capped(o.kind, s, kMaxShortLen); break;
        case F::kName: set_capped(o.name, s, kMaxNameLen); break;
        case F::kNamespace: set_capped(o.namespace_, s, kMaxNameLen); break;
        case F::kUid: set_capped(o.uid, s, kMaxShortLen); break;
        case F::kResourceVersion: set_capped(o.resource_version, s, kMaxShortLen); break;
        case F::kDeletionTimestamp: o.deleting = true; break;
        case F::kPodTemplateHash: set_capped(o.pod_template_hash, s, kMaxShortLen); break;
        case F::kOwnerKind:
          if (!skip_[0] && !o.owners.empty()) set_capped(o.owners.back().kind, s, kMaxShortLen);
          break;
        case F::kOwnerName:
          if (!skip_[0] && !o.owners.empty()) set_capped(o.owners.back().name, s, kMaxNameLen);
          break;
        case F::kNodeName: set_capped(o.node_name, s, kMaxNameLen); break;
        case F::kPhase: set_capped(o.phase, s, kMaxShortLen); break;
        case F::kPodIP: set_capped(o.pod_ip, s, kMaxShortLen); break;
        case F::kPodIPsIp:
          if (!skip_[1] && !o.pod_ips.empty()) set_capped(o.pod_ips.back(), s, kMaxShortLen);
          break;
        case F::kHostIP: set_capped(o.host_ip, s, kMaxShortLen); break;
        case F::kServiceType: set_capped(o.service_type, s, kMaxShortLen); break;
        case F::kClusterIP: set_capped(o.cluster_ip, s, kMaxShortLen); break;
        case F::kClusterIPs:
          if (o.cluster_ips.size() < kMaxListEntries) set_capped(o.cluster_ips.emplace_back(), s, kMaxShortLen);
          break;
        case F::kPortProtocol:
          if (!skip_[2] && !o.ports.empty()) set_capped(o.ports.back().protocol, s, kMaxShortLen);
          break;
        case F::kAddressType:
          if (!skip_[3] && !o.addresses.empty()) set_capped(o.addresses.back().type, s, kMaxShortLen);
          break;
        case F::kAddressAddress:
          if (!skip_[3] && !o.addresses.empty()) set_capped(o.addresses.back().address, s, kMaxNameLen);
          break;
        case F::kPodCIDR: set_capped(o.pod_cidr, s, kMaxShortLen); break;
        case F::kPodCIDRs:
          if (o.pod_cidrs.size() < kMaxListEntries) set_capped(o.pod_cidrs.emplace_back(), s, kMaxShortLen);
          break;
        case F::kInitialEventsEnd: o.initial_events_end = s == "true"; break;
        case F::kServiceName: set_capped(o.service_name, s, kMaxNameLen); break;
        case F::kSliceAddressType: set_capped(o.address_type, s, kMaxShortLen); break;
        case F::kEndpointAddress:
          if (!skip_[4] && !o.endpoints.empty() && o.endpoints.back().addresses.size() < kMaxListEntries)
            set_capped(o.endpoints.back().addresses.emplace_back(), s, kMaxShortLen);
          break;
        case F::kEndpointTargetKind:
          if (!skip_[4] && !o.endpoints.empty()) set_capped(o.endpoints.back().target_kind, s, kMaxShortLen);
          break;
        case F::kReason: set_capped(o.reason, s, kMaxShortLen); break;
        case F::kMessage: set_capped(o.message, s, kMaxMessageLen); break;
        default: break;
      }
    } else if (v.is_bool) {
      if (f == F::kHostNetwork)
        o.host_network = v.b;
      else if (f == F::kOwnerController && !skip_[0] && !o.owners.empty())
        o.owners.back().controller = v.b;
    } else if (v.is_int) {
      auto port = [&](int64_t x) -> uint16_t { return x > 0 && x <= 65535 ? static_cast<uint16_t>(x) : 0; };
      if (f == F::kCode)
        o.code = v.i;
      else if (f == F::kPortPort && !skip_[2] && !o.ports.empty())
        o.ports.back().port = port(v.i);
      else if (f == F::kPortNodePort && !skip_[2] && !o.ports.empty())
        o.ports.back().node_port = port(v.i);
    }
  }

  std::string root_;
  const ItemSink* sink_;
  std::string path_;
  std::string scratch_;
  std::string key_;
  std::vector<size_t> lens_;
  std::vector<bool> arrays_;
  bool in_object_ = false;
  Object cur_;
  std::array<bool, 5> skip_{};
};

template <class Input>
Result<ListInfo> parse_list_impl(Input&& in, const ItemSink& on_item) {
  Handler h("/items/[]", &on_item);
  bool ok = json::sax_parse(std::forward<Input>(in), &h);
  if (!ok) return Error::invalid("parse Kubernetes list", h.error.empty() ? "malformed JSON" : h.error);
  if (h.list.kind != "Status" && h.list.items == 0 && h.list.kind.size() > 0 &&
      h.list.kind.find("List") == std::string::npos) {
    return Error::invalid("parse Kubernetes list", "document of kind \"" + h.list.kind + "\" is not a list");
  }
  if (h.list.kind == "Status") h.list.status.kind = "Status";
  return std::move(h.list);
}

}  // namespace

Result<ListInfo> parse_list(std::string_view text, const ItemSink& on_item) {
  return parse_list_impl(text, on_item);
}

Result<ListInfo> parse_list(std::istream& in, const ItemSink& on_item) {
  return parse_list_impl(in, on_item);
}

const char* to_string(EventType t) {
  switch (t) {
    case EventType::kAdded: return "ADDED";
    case EventType::kModified: return "MODIFIED";
    case EventType::kDeleted: return "DELETED";
    case EventType::kBookmark: return "BOOKMARK";
    case EventType::kError: return "ERROR";
  }
  return "?";
}

Result<WatchEvent> parse_watch_event(std::string_view line) {
  Handler h("/object", nullptr);
  if (!json::sax_parse(line, &h)) {
    return Error::invalid("parse watch event", h.error.empty() ? "malformed JSON" : h.error);
  }
  WatchEvent ev;
  const std::string& t = h.event_type;
  if (t == "ADDED")
    ev.type = EventType::kAdded;
  else if (t == "MODIFIED")
    ev.type = EventType::kModified;
  else if (t == "DELETED")
    ev.type = EventType::kDeleted;
  else if (t == "BOOKMARK")
    ev.type = EventType::kBookmark;
  else if (t == "ERROR")
    ev.type = EventType::kError;
  else
    return Error::invalid("parse watch event", "unknown event type \"" + t + "\"");
  if (!h.saw_object) return Error::invalid("parse watch event", "event without an object");
  ev.object = std::move(h.single);
  return ev;
}

}  // namespace netring::agent::k8s
