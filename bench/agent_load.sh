#!/usr/bin/env bash
# Figure 5: netring-agent's CPU and RSS at 1k, 10k and 100k active flows.
# Two CNI pods (bridge + host-local, scripts/lib/pods.sh) in a node namespace
# with the agent hooking their veths at sample rate 1; a generator in the
# client pod sends small UDP datagrams round-robin over N distinct 5-tuples
# (source port x destination port) to the server pod. While it runs:
#   CPU: utime + stime of the agent (/proc/PID/stat) over a window, in cores
#   RSS: VmRSS (/proc/PID/status), median and max of samples every 50 ms
#        over the window (VmHWM, the peak so far, beside them); UMEM: the Rss of the AF_XDP UMEM mapping
#        in /proc/PID/smaps, subtracted for the goal. The agent names it
#        [anon:netring-umem] where the kernel has CONFIG_ANON_VMA_NAME; else
#        it is the anonymous mapping flagged "dc" (MADV_DONTFORK, which keeps
#        it from merging with its neighbours) of the size that /api/v1/status
#        reports as memory.umem_bytes (pkg/xdp/umem.cpp).
#   flows: flows.active from /api/v1/status; memory.* (UMEM and flow table
#        sizes, per worker) from there too
#
#   bench/agent_load.sh AGENT_BIN OUT_JSON [SECONDS_PER_LEVEL=10]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib/pods.sh"
agent_bin=$1 out=$2 secs=${3:-10}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

node=nr-bal-node
state=$(mktemp -d /tmp/netring-agent-load.XXXXXX)
agent_pid=""
cleanup() {
  set +e
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"
    wait "$agent_pid"
  fi
  pods_teardown
  rm -rf "$state"
}
trap cleanup EXIT
ip netns del "$node" 2>/dev/null || true

# The table holds 131072 flows: the largest level (100k) plus 30% headroom,
# as an operator sizes --flow-table-size for the flows a node carries (the
# table is allocated whole at start; status memory.flow_table_bytes).
table_size=131072

pods_init "$state" nr-bal0 10.244.92.0/24 "$node"
pod_add srv bench server
pod_add cli bench client
pods_write_podlist "$state/pods.json" bench-node
ip netns exec "$node" "$agent_bin" --node-name=bench-node --pods-from="$state/pods.json" --kube-api=off \
  --label-level=pod --sample-rate=1 --flow-table-size=$table_size --flow-idle-timeout=300s \
  --metrics-listen=127.0.0.1:9960 --api-listen=127.0.0.1:9961 >"$state/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 300); do
  ip netns exec "$node" curl -sf http://127.0.0.1:9960/readyz >/dev/null 2>&1 && break
  kill -0 "$agent_pid" 2>/dev/null || {
    cat "$state/agent.log" >&2
    exit 1
  }
  sleep 0.1
done
sleep 1
workers=$(grep -m1 'msg="data path ready"' "$state/agent.log" | sed -n 's/.*workers=\([0-9]*\).*/\1/p')
echo "agent pid $agent_pid, workers ${workers:-?}"

cat >"$state/gen.py" <<'PYTHON'
import socket, sys, time
dst, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
k = (n + 19999) // 20000
per = (n + k - 1) // k
socks = []
for i in range(k):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 40000 + i))
    socks.append(s)
tuples = [(s, 1024 + p) for s in socks for p in range(per)][:n]
payload = b"x" * 32
end = time.time() + secs
sent = 0
while time.time() < end:
    for s, p in tuples:
        s.sendto(payload, (dst, p))
    sent += len(tuples)
print(sent)
PYTHON

# The commit measured, recorded with the figures: the report names it.
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
"$PY" - "$agent_pid" "$node" "$(pod_netns cli)" "$(pod_ip srv)" "$state/gen.py" "$secs" "${workers:-1}" "$out" "$commit" <<'PYTHON'
import json, os, subprocess, sys, time
pid, node, cli_ns, dst, gen, secs, workers, out = sys.argv[1:9]
secs, workers = float(secs), int(workers)
tick = os.sysconf("SC_CLK_TCK")

def status():
    r = subprocess.run(["ip", "netns", "exec", node, "curl", "-s", "http://127.0.0.1:9961/api/v1/status"],
                       capture_output=True, text=True)
    try:
        return json.loads(r.stdout)
    except Exception:
        return {}

memory = status().get("memory", {})
umem_bytes = memory.get("umem_bytes", 0)

def cpu_s():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

def proc_status_kib(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

def rss_kib():
    return proc_status_kib("VmRSS")

def umem_rss_kib():
    """(Rss KiB, how found) of the UMEM: by name, else by flags and size."""
    maps, cur = [], None
    for line in open(f"/proc/{pid}/smaps"):
        parts = line.split()
        if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
            cur = {"name": " ".join(parts[5:]), "size": 0, "rss": 0, "flags": []}
            maps.append(cur)
        elif parts[0] == "Size:":
            cur["size"] = int(parts[1])
        elif parts[0] == "Rss:":
            cur["rss"] = int(parts[1])
        elif parts[0] == "VmFlags:":
            cur["flags"] = parts[1:]
    named = [m["rss"] for m in maps if m["name"] == "[anon:netring-umem]"]
    if named:
        return sum(named), "name"
    flagged = [m["rss"] for m in maps
               if m["name"] == "" and "dc" in m["flags"] and umem_bytes and m["size"] * 1024 == umem_bytes]
    return (sum(flagged), "flags+size") if flagged else (0, "not found")

def active():
    return status().get("flows", {}).get("active")

levels = []
for n in (1000, 10000, 100000):
    g = subprocess.Popen(["ip", "netns", "exec", cli_ns, sys.executable, gen, dst, str(n), str(secs)],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(secs * 0.5)
    c0, t0 = cpu_s(), time.time()
    samples = []  # RSS swings with the once-a-second snapshot: sample it through the window
    while time.time() < t0 + secs * 0.3:
        samples.append(rss_kib())
        time.sleep(0.05)
    c1, t1 = cpu_s(), time.time()
    samples.sort()
    rss, (urss, found), act = samples[len(samples) // 2], umem_rss_kib(), active()
    sent = int(g.communicate()[0].strip() or 0)
    lv = {"flows": n, "active_flows": act, "cpu_cores": (c1 - c0) / (t1 - t0), "rss_kib": rss,
          "rss_max_kib": samples[-1], "rss_samples": len(samples), "hwm_kib": proc_status_kib("VmHWM"), "umem_rss_kib": urss, "umem_found_by": found,
          "rss_excl_umem_mib": (rss - urss) / 1024, "sent_packets": sent, "gen_pps": sent / secs}
    print(lv, flush=True)
    levels.append(lv)
json.dump({"commit": sys.argv[9], "workers": workers, "umem_bytes": umem_bytes,
           "umem_bytes_per_worker": memory.get("umem_bytes_per_worker", []),
           "flow_table_bytes": memory.get("flow_table_bytes", 0), "seconds_per_level": secs, "levels": levels},
          open(out, "w"), indent=1)
PYTHON
