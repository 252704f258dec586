#!/usr/bin/env python3
"""Checks what a rendered netring chart must contain, beyond schema validity.

    assertions.py default|nondefault OUT_DIR RULES_FILE

OUT_DIR holds objects.json and NOTES.txt from tests/chart/render. Writes the
dashboard's PromQL as a Prometheus rules file to RULES_FILE (for promtool)
and prints the agent's rendered arguments, one per line, on stdout.
Exits 1 listing every failed expectation.
"""
import json
import os
import re
import sys

mode, out_dir, rules_file = sys.argv[1], sys.argv[2], sys.argv[3]
objects = json.load(open(f"{out_dir}/objects.json"))
notes = open(f"{out_dir}/NOTES.txt").read()
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def only(kind):
    found = [o["object"] for o in objects if o["object"]["kind"] == kind]
    expect(len(found) == 1, f"exactly one {kind}, found {len(found)}")
    return found[0] if found else {}


kinds = sorted(o["object"]["kind"] for o in objects)
base = ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Service", "ServiceAccount"]
want = base if mode == "default" else sorted(base + ["PodMonitor", "ServiceMonitor"])
expect(kinds == want, f"objects {kinds}, want {want}")

ds = only("DaemonSet")
pod = ds.get("spec", {}).get("template", {}).get("spec", {})
ctr = (pod.get("containers") or [{}])[0]
sc = ctr.get("securityContext", {})
expect(pod.get("hostNetwork") is True, "hostNetwork: true")
expect(pod.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy ClusterFirstWithHostNet")
expect(sc.get("runAsUser") == 0, "runAsUser 0")
expect(sc.get("privileged") is False, "not privileged")
expect(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
expect(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop [ALL]")
expect(sorted(sc.get("capabilities", {}).get("add", [])) == sorted(["BPF", "NET_ADMIN", "PERFMON", "NET_RAW", "IPC_LOCK"]),
       f"capabilities add exactly BPF NET_ADMIN PERFMON NET_RAW IPC_LOCK, got {sc.get('capabilities', {}).get('add')}")
expect(ds.get("spec", {}).get("updateStrategy", {}).get("type") == "RollingUpdate", "RollingUpdate")
env = {e["name"]: e for e in ctr.get("env", [])}
expect(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
       "NODE_NAME from spec.nodeName")
args = ctr.get("args", [])
expect(all(isinstance(a, str) and a.startswith("--") for a in args), f"args are --flags: {args}")
expect(not any(re.search(r"\de[+-]\d", a) for a in args), f"no float formatting in args: {args}")
ports = {p["name"]: p["containerPort"] for p in ctr.get("ports", [])}
probe_paths = (ctr.get("livenessProbe", {}).get("httpGet", {}), ctr.get("readinessProbe", {}).get("httpGet", {}))
expect(probe_paths[0].get("path") == "/healthz" and probe_paths[0].get("port") == "metrics", "liveness /healthz on metrics")
expect(probe_paths[1].get("path") == "/readyz" and probe_paths[1].get("port") == "metrics", "readiness /readyz on metrics")
expect(pod.get("terminationGracePeriodSeconds", 0) >= 30, "terminationGracePeriodSeconds >= 30")
mounts = {m["mountPath"] for m in ctr.get("volumeMounts", [])}

role = only("ClusterRole")
expect(role.get("rules") == [{"apiGroups": [""], "resources": ["pods", "services", "nodes"],
                              "verbs": ["get", "list", "watch"]},
                             {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                              "verbs": ["list", "watch"]}],
       f"ClusterRole: get/list/watch on pods, services, nodes and list/watch on endpointslices only; "
       f"got {role.get('rules')}")
binding = only("ClusterRoleBinding")
sa = only("ServiceAccount")
expect(binding.get("roleRef", {}).get("name") == role.get("metadata", {}).get("name"), "binding refers to the role")
expect(binding.get("subjects", [{}])[0].get("name") == sa.get("metadata", {}).get("name")
       and pod.get("serviceAccountName") == sa.get("metadata", {}).get("name"), "binding, pod and SA agree")
svc = only("Service")
expect(svc.get("spec", {}).get("selector", {}).items() <= ds.get("spec", {}).get("template", {})
       .get("metadata", {}).get("labels", {}).items(), "Service selects the agent pods")
expect(svc.get("spec", {}).get("ports", [{}])[0].get("targetPort") == "metrics", "Service targets the metrics port")
expect(ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items(),
       "DaemonSet selector matches its pod labels")

# Dashboard: valid JSON, the four panels the issue names, PromQL only over
# the agent's metric names.
cm = only("ConfigMap")
labels = cm.get("metadata", {}).get("labels", {})
expect(labels.get("grafana_dashboard") == ("1" if mode == "default" else "netring"), "grafana_dashboard sidecar label")
dash = json.loads(cm.get("data", {}).get("netring.json", "{}"))
panels = [p for p in dash.get("panels", []) if p.get("type") != "row"]
titles = {p["title"] for p in panels}
for t in ["Top workloads by flow bytes", "Interface throughput", "Samples received and lost", "Capture backend",
          "Packet drops by reason", "Packet drops by workload", "TCP retransmitted segments by workload"]:
    expect(t in titles, f"dashboard panel {t!r}")
metrics = {"netring_flow_bytes_total", "netring_flow_packets_total", "netring_interface_bytes_total",
           "netring_interface_packets_total", "netring_samples_received_total", "netring_samples_lost_total",
           "netring_capture_backend_info", "netring_flows_active", "netring_parse_errors_total", "netring_build_info",
           "netring_dns_queries_total", "netring_dns_responses_total", "netring_dns_timeouts_total",
           "netring_dns_latency_seconds_bucket", "netring_tcp_connection_attempts_total",
           "netring_tcp_connections_established_total", "netring_tcp_resets_total",
           "netring_tcp_handshake_seconds_bucket",
           "netring_drops_total", "netring_tcp_retransmits_total"}
exprs = [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]
expect(len(exprs) >= len(panels), "every panel has a query")
used = set()
for title, e in exprs:
    names = set(re.findall(r"\bnetring_[a-z_]+", e))
    expect(names and names <= metrics, f"panel {title!r} queries unknown metrics {names - metrics}")
    used |= names
expect(used == metrics, f"dashboard leaves out {metrics - used}")
with open(rules_file, "w") as f:
    # $__rate_interval is Grafana's; promtool checks the PromQL around it.
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, e) in enumerate(exprs):
        f.write(f"      - record: netring:dashboard_panel_{i}\n        expr: {json.dumps(e.replace('$__rate_interval', '2m'))}\n")

expect("kubectl" in notes and "port-forward" in notes and "curl" in notes, "NOTES.txt has port-forward + curl")

DEFAULT_ARGS = ["--sample-rate=100", "--copy-budget=2000", "--exact-flows=bulk", "--drops=on", "--tcp-retransmits=on", "--backend=auto", "--workers=1", "--snap-len=128",
                "--capture-sample-rate=1", "--capture-xdp-mode=auto",
                "--tunnel-ports=4789,8472,6081,51820", "--dns=on", "--dns-ports=53", "--dns-timeout=5s",
                "--dns-qname-label=off", "--tcp-handshake=on", "--label-level=workload", "--flow-table-size=65536",
                "--flow-idle-timeout=30s", "--flow-active-timeout=120s", "--metrics-listen=0.0.0.0:9990",
                "--api-listen=127.0.0.1:9991", "--max-series=20000", "--pod-grace-period=60s",
                "--enable-capture-api=false", "--capture-max-duration=60s", "--capture-max-packets=100000",
                "--kube-api=auto", "--kube-pods=node", "--kube-lookup-ttl=5m", "--kube-lookup-negative-ttl=30s",
                "--kube-lookup-rate=20", "--log-level=info", "--log-format=logfmt"]

if mode == "default":
    expect(args == DEFAULT_ARGS, f"default args are the contract's defaults: {args}")
    expect(ports == {"metrics": 9990, "api": 9991}, f"ports {ports}")
    expect(pod.get("tolerations") == [{"operator": "Exists"}], "tolerates every taint")
    expect("priorityClassName" not in pod, "no priorityClassName by default")
    expect("/sys/fs/bpf" not in mounts, "bpffs not mounted by default")
    expect(svc["spec"].get("clusterIP") == "None", "headless Service")
    expect(ctr.get("image") == "netring-agent:0.1.0", f"image {ctr.get('image')}")
    ann = ds["spec"]["template"]["metadata"].get("annotations", {})
    expect(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9990", "scrape annotations")
    expect("curl -s http://127.0.0.1:9991/api/v1/" in notes, "NOTES: API curl on 9991")
else:
    for a in ["--sample-rate=1000000", "--copy-budget=0", "--exact-flows=all", "--drops=off", "--tcp-retransmits=off", "--flow-table-size=1048576", "--max-series=1000000", "--tunnel-ports=4789",
              "--physical-interfaces=eth0,ens5", "--capture-ports=ens6", "--metrics-listen=0.0.0.0:19990",
              "--interfaces-exclude=^(docker0|cni-podman[0-9]+): #x", "--enable-capture-api=true",
              "--kube-api=off", "--config=/etc/netring/config.json", "--node-name=node-a",
              "--ipfix-collector=flows.collectors.svc:2055", "--ipfix-transport=tcp",
              "--ipfix-template-refresh=5m", "--ipfix-template-refresh-messages=1000000",
              "--ipfix-active-interval=0s", "--ipfix-observation-domain=4000000000",
              "--ipfix-enterprise-number=4294967295", "--ipfix-fields=kubernetes", "--ipfix-queue-size=1048576",
              "--ipfix-max-message-size=9000", "--dns=off", "--dns-ports=53,5353", "--dns-timeout=2s",
              "--dns-qname-label=on", "--tcp-handshake=off"]:
        expect(a in args, f"arg {a} in {args}")
    expect(args[-1] == "--log-level=warn", "extraArgs come last")
    # Every config value has an effect: the non-default set moves each one,
    # and each renders its own flag with a value the defaults do not have.
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    schema = json.load(open(os.path.join(repo, "charts", "netring", "values.schema.json")))
    def kebab(name):
        return re.sub(r"[A-Z]", lambda m: "-" + m.group(0).lower(), name)

    values = []  # (config value path, its flag); a nested group (config.ipfix) names flags --group-key
    for key, prop in schema["properties"]["config"]["properties"].items():
        if prop.get("type") == "object" and "properties" in prop:
            values += [(f"{key}.{sub}", f"--{kebab(key)}-{kebab(sub)}") for sub in prop["properties"]]
        else:
            values.append((key, "--config" if key == "file" else "--" + kebab(key)))
    for key, flag in values:
        mine = [a for a in args if a.startswith(flag + "=")]
        expect(mine and all(a not in DEFAULT_ARGS for a in mine),
               f"config.{key}: renders no {flag}= off its default (args {args})")
    for a in ["--capture-sample-rate=2000000", "--capture-xdp-mode=native"]:
        expect(a in args, f"arg {a} in {args}")
    expect(ports == {"metrics": 19990, "api": 19991}, f"ports follow the listen addresses: {ports}")
    expect(pod.get("priorityClassName") == "system-node-critical", "priorityClassName")
    expect("/sys/fs/bpf" in mounts and "/etc/netring" in mounts, f"mounts {mounts}")
    expect(sc.get("seccompProfile") == {"type": "RuntimeDefault"}, "seccompProfile")
    expect("clusterIP" not in svc["spec"] and svc["spec"]["ports"][0]["port"] == 8080, "Service port 8080, virtual IP")
    expect(ctr.get("image", "").endswith("@sha256:" + "0123456789abcdef" * 4), "image by digest")
    expect(cm["metadata"]["namespace"] == "grafana", "dashboard namespace")
    sm, pm = only("ServiceMonitor"), only("PodMonitor")
    expect(sm["spec"]["endpoints"][0]["port"] == "metrics" and sm["spec"]["endpoints"][0]["interval"] == "15s",
           "ServiceMonitor endpoint")
    expect(pm["spec"]["podMetricsEndpoints"][0]["port"] == "metrics", "PodMonitor endpoint")
    expect(sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(),
           "ServiceMonitor selects the Service")
    expect("annotations" not in ds["spec"]["template"]["metadata"]
           or "prometheus.io/scrape" not in ds["spec"]["template"]["metadata"]["annotations"], "no scrape annotations")
    expect("/api/v1/capture" in notes and "ServiceMonitor" in notes, "NOTES: capture line and ServiceMonitor")

if failures:
    for f in failures:
        print(f"FAIL {mode}: {f}", file=sys.stderr)
    sys.exit(1)
print("\n".join(args))
