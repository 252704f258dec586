#!/usr/bin/env bash
# Figure 5: netring-agent's CPU and RSS at 1k, 10k and 100k active flows.
# Two CNI pods (bridge + host-local, scripts/lib/pods.sh) in a node namespace
# with the agent hooking their veths at sample rate 1; a generator in the
# client pod sends small UDP datagrams round-robin over N distinct 5-tuples
# (source port x destination port) to the server pod. While it runs:
#   CPU: utime + stime of the agent (/proc/PID/stat) over a window, in cores
#   RSS: VmRSS (/proc/PID/status); UMEM: the AF_XDP UMEM mapping's Rss in
#        /proc/PID/smaps (an anonymous MAP_POPULATE mapping of workers x
#        2 x ring frames x 2048 B, pkg/xdp/umem.cpp), subtracted for the goal
#   flows: flows.active from /api/v1/status
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

pods_init "$state" nr-bal0 10.244.92.0/24 "$node"
pod_add srv bench server
pod_add cli bench client
pods_write_podlist "$state/pods.json" bench-node
ip netns exec "$node" "$agent_bin" --node-name=bench-node --pods-from="$state/pods.json" --kube-api=off \
  --label-level=pod --sample-rate=1 --flow-table-size=262144 --flow-idle-timeout=300s \
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

"$PY" - "$agent_pid" "$node" "$(pod_netns cli)" "$(pod_ip srv)" "$state/gen.py" "$secs" "${workers:-1}" "$out" <<'PYTHON'
import json, os, subprocess, sys, time
pid, node, cli_ns, dst, gen, secs, workers, out = sys.argv[1:9]
secs, workers = float(secs), int(workers)
tick = os.sysconf("SC_CLK_TCK")
umem_bytes = workers * 2 * 2048 * 2048  # workers x fill ring (2 x 2048) x 2048 B frames

def cpu_s():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def umem_rss_kib():
    size, total, cur = None, 0, None
    for line in open(f"/proc/{pid}/smaps"):
        parts = line.split()
        if "-" in parts[0] and len(parts) >= 5:
            cur = len(parts) == 5  # anonymous: no pathname
        elif parts[0] == "Size:":
            size = int(parts[1])
        elif parts[0] == "Rss:" and cur and size == umem_bytes // 1024 and int(parts[1]) >= size * 0.9:
            total += int(parts[1])  # populated: not one of the (equally sized) 8 MiB thread stacks
    return total

def active():
    r = subprocess.run(["ip", "netns", "exec", node, "curl", "-s", "http://127.0.0.1:9961/api/v1/status"],
                       capture_output=True, text=True)
    try:
        return json.loads(r.stdout)["flows"]["active"]
    except Exception:
        return None

levels = []
for n in (1000, 10000, 100000):
    g = subprocess.Popen(["ip", "netns", "exec", cli_ns, sys.executable, gen, dst, str(n), str(secs)],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(secs * 0.5)
    c0, t0 = cpu_s(), time.time()
    time.sleep(secs * 0.3)
    c1, t1 = cpu_s(), time.time()
    rss, urss, act = rss_kib(), umem_rss_kib(), active()
    sent = int(g.communicate()[0].strip() or 0)
    lv = {"flows": n, "active_flows": act, "cpu_cores": (c1 - c0) / (t1 - t0), "rss_kib": rss,
          "umem_rss_kib": urss, "rss_excl_umem_mib": (rss - urss) / 1024, "sent_packets": sent,
          "gen_pps": sent / secs}
    print(lv, flush=True)
    levels.append(lv)
json.dump({"workers": workers, "umem_bytes": umem_bytes, "seconds_per_level": secs, "levels": levels},
          open(out, "w"), indent=1)
PYTHON
