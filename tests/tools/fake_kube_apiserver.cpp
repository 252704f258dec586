// fake-kube-apiserver: a FAKE Kubernetes API server for the e2e scenarios.
// No real kube-apiserver (nor kind, k3s, kubelet) can run on the machines
// netring is tested on (see ENVIRONMENT.md), so this process serves the
// test fixture FakeKubeApi (tests/testing/fake_kube_api.hpp: lists with the
// API server's resourceVersion and pagination semantics, watch and
// watch-list with resourceVersion, field and label selectors, bookmarks,
// 410 Gone, bearer-token auth over HTTPS with a throw-away CA) with objects
// shaped exactly as the API server returns them (tests/testing/k8s_objects.hpp).
//
//   fake-kube-apiserver --objects FILE --kubeconfig-out FILE [--token T] [--control FILE]
//
// FILE holds the desired state:
//   {"pods": [{"namespace": "e2e", "name": "web-1", "ip": "10.88.0.2",
//              "owner_kind": "ReplicaSet", "owner_name": "web-5d4f8",
//              "template_hash": "5d4f8", "node": "n1", "host_ip": "10.0.0.1"}],
//    "services": [{"namespace": "e2e", "name": "web", "cluster_ips": ["10.96.0.10"]}],
//    "nodes": [{"name": "n1", "internal_ip": "10.0.0.1"}]}
// SIGHUP re-reads it and turns the difference into ADDED / MODIFIED /
// DELETED watch events, the way a controller's changes reach a watcher.
// The kubeconfig written names the server, its CA and the token; it is
// written last (renamed into place), so its presence means "serving".
// SIGUSR1 runs the commands in the --control file, one a line, then deletes
// the file (so the sender knows they ran): the faults an API server shows
//   fail N STATUS   the next N requests answer STATUS with a Status body
//   drop_watches    every open watch is cut mid-stream
//   stall on|off    watches opened from now on send nothing
//   compact         the event history is forgotten: resuming watches get 410
//   delay MS        every request waits MS before its answer (0: none)
// SIGTERM/SIGINT stop the server.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/testing/fake_kube_api.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using json = nlohmann::json;
using netring::testing::FakeKubeApi;
namespace k8s = netring::testing::k8s;

// resource -> "ns/name" -> object as the API holds it (without resourceVersion).
using State = std::map<std::string, std::map<std::string, json>>;

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

// Errors in the file end the process with a message: the scenario wrote it.
State read_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  json doc = json::parse(in);
  State s;
  for (const json& p : doc.value("pods", json::array())) {
    k8s::PodSpec spec;
    spec.ns = p.value("namespace", "default");
    spec.name = p.at("name").get<std::string>();
    spec.owner_kind = p.value("owner_kind", "");
    spec.owner_name = p.value("owner_name", "");
    spec.template_hash = p.value("template_hash", "");
    if (p.contains("ip")) spec.ips.push_back(p.at("ip").get<std::string>());
    for (const json& ip : p.value("ips", json::array())) spec.ips.push_back(ip.get<std::string>());
    spec.node = p.value("node", spec.node);
    spec.host_ip = p.value("host_ip", spec.host_ip);
    spec.host_network = p.value("host_network", false);
    spec.phase = p.value("phase", spec.phase);
    json obj = k8s::pod(spec);
    s["pods"][spec.ns + "/" + spec.name] = obj;
  }
  for (const json& v : doc.value("services", json::array())) {
    std::string ns = v.value("namespace", "default"), name = v.at("name").get<std::string>();
    s["services"][ns + "/" + name] =
        k8s::service(ns, name, v.at("cluster_ips").get<std::vector<std::string>>(), "1", v.value("node_port", 0));
  }
  for (const json& n : doc.value("nodes", json::array())) {
    std::string name = n.at("name").get<std::string>();
    s["nodes"]["/" + name] = k8s::node(name, n.at("internal_ip").get<std::string>(), "1");
  }
  return s;
}

// Objects compare without resourceVersion: the API assigns that.
json without_rv(json obj) {
  obj["metadata"].erase("resourceVersion");
  return obj;
}

void apply(FakeKubeApi& api, const State& from, const State& to) {
  for (const char* res : {"nodes", "services", "pods"}) {
    auto f = from.find(res);
    auto t = to.find(res);
    static const std::map<std::string, json> none;
    const auto& old_objs = f == from.end() ? none : f->second;
    const auto& new_objs = t == to.end() ? none : t->second;
    for (const auto& [key, obj] : new_objs) {
      auto it = old_objs.find(key);
      if (it == old_objs.end()) {
        api.add(res, obj);
        std::fprintf(stderr, "fake-kube-apiserver: ADDED %s %s\n", res, key.c_str());
      } else if (without_rv(it->second) != without_rv(obj)) {
        api.modify(res, obj);
        std::fprintf(stderr, "fake-kube-apiserver: MODIFIED %s %s\n", res, key.c_str());
      }
    }
    for (const auto& [key, obj] : old_objs) {
      if (new_objs.count(key)) continue;
      const json& m = obj.at("metadata");
      api.remove(res, m.value("namespace", ""), m.at("name").get<std::string>());
      std::fprintf(stderr, "fake-kube-apiserver: DELETED %s %s\n", res, key.c_str());
    }
  }
}

void write_kubeconfig(const FakeKubeApi& api, const std::string& path, const std::string& token) {
  std::ostringstream y;
  y << "apiVersion: v1\nkind: Config\n"
    << "clusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:" << api.port() << "\n"
    << "    certificate-authority-data: " << base64(api.ca().ca().cert_pem) << "\n"
    << "users:\n- name: e2e\n  user:\n    token: " << token << "\n"
    << "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: e2e\n"
    << "current-context: fake\n";
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << y.str();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp);
}

int usage() {
  std::fputs("usage: fake-kube-apiserver --objects FILE --kubeconfig-out FILE [--token T] [--control FILE]\n", stderr);
  return 2;
}

// One control command (see the top of this file); false when it is not one.
bool control(FakeKubeApi& api, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "fail") {
    int n = 0, status = 0;
    if (!(in >> n >> status) || n < 0 || status < 100 || status > 599) return false;
    api.fail_next(n, status);
  } else if (cmd == "drop_watches") {
    api.drop_watches();
  } else if (cmd == "stall") {
    std::string on;
    in >> on;
    if (on != "on" && on != "off") return false;
    api.stall_watches(on == "on");
  } else if (cmd == "compact") {
    api.compact();
  } else if (cmd == "delay") {
    long ms = -1;
    if (!(in >> ms) || ms < 0) return false;
    api.delay_responses(std::chrono::milliseconds(ms));
  } else {
    return false;
  }
  return true;
}

void run_control(FakeKubeApi& api, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "fake-kube-apiserver: SIGUSR1 but no control file %s\n", path.c_str());
    return;
  }
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    bool ok = control(api, line);
    std::fprintf(stderr, "fake-kube-apiserver: control '%s'%s\n", line.c_str(), ok ? "" : ": not a command, ignored");
  }
  std::remove(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string objects, kubeconfig, token = "e2e-token", control_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--objects") {
      objects = argv[++i];
    } else if (a == "--kubeconfig-out") {
      kubeconfig = argv[++i];
    } else if (a == "--token") {
      token = argv[++i];
    } else if (a == "--control") {
      control_file = argv[++i];
    } else {
      return usage();
    }
  }
  if (objects.empty() || kubeconfig.empty()) return usage();

  // Taken synchronously, before the server's threads start, so they inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  try {
    FakeKubeApi::Options opts;
    opts.token = token;
    FakeKubeApi api(opts);
    State state;
    State initial = read_state(objects);
    apply(api, state, initial);
    state = std::move(initial);
    write_kubeconfig(api, kubeconfig, token);
    std::fprintf(stderr, "fake-kube-apiserver: serving https://127.0.0.1:%d (a fake API server for tests)\n",
                 api.port());
    for (;;) {
      int sig = 0;
      if (sigwait(&sigs, &sig) != 0) continue;
      if (sig == SIGUSR1) {
        if (!control_file.empty()) run_control(api, control_file);
        continue;
      }
      if (sig != SIGHUP) break;
      try {
        State next = read_state(objects);
        apply(api, state, next);
        state = std::move(next);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "fake-kube-apiserver: reload of %s failed: %s\n", objects.c_str(), e.what());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake-kube-apiserver: %s\n", e.what());
    return 1;
  }
  return 0;
}
