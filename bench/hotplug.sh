#!/usr/bin/env bash
# Figure 7, hot-plug: the time from a new pod's host-side veth appearing to
# the agent hooking it. Pods are made by the real CNI plugins (bridge +
# host-local, scripts/lib/pods.sh) in a node namespace of their own, with
# netring-agent running there; each trial adds one pod while the agent runs.
#   appeared: the RTM_NEWLINK of the veth in the node namespace (ip -ts monitor)
#   hooked:   the agent's 'interface hooked' log line for that interface
# Both clocks are the wall clock (UTC, ms resolution in the agent log).
#
#   bench/hotplug.sh AGENT_BIN OUT_JSON [TRIALS=10]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib/pods.sh"
agent_bin=$1 out=$2 trials=${3:-10}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

node=nr-bhp-node
state=$(mktemp -d /tmp/netring-hotplug.XXXXXX)
agent_pid="" mon_pid=""
cleanup() {
  set +e
  [ -n "$mon_pid" ] && kill "$mon_pid" 2>/dev/null
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"
    wait "$agent_pid"
  fi
  pods_teardown
  rm -rf "$state"
}
trap cleanup EXIT
ip netns del "$node" 2>/dev/null || true

pods_init "$state" nr-bhp0 10.244.91.0/24 "$node"
pod_add srv bench server
pods_write_podlist "$state/pods.json" bench-node
ip netns exec "$node" "$agent_bin" --node-name=bench-node --pods-from="$state/pods.json" --kube-api=off \
  --label-level=pod --sample-rate=1 --log-level=debug --metrics-listen=127.0.0.1:9970 \
  --api-listen=127.0.0.1:9971 >"$state/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 300); do
  ip netns exec "$node" curl -sf http://127.0.0.1:9970/readyz >/dev/null 2>&1 && break
  kill -0 "$agent_pid" 2>/dev/null || {
    cat "$state/agent.log" >&2
    exit 1
  }
  sleep 0.1
done
TZ=UTC ip -n "$node" -ts monitor link >"$state/monitor.log" 2>&1 &
mon_pid=$!
sleep 0.3

veths=()
for i in $(seq 1 "$trials"); do
  pod_add "c$i" bench client
  v=$(pod_veth "c$i")
  veths+=("$v")
  for _ in $(seq 1 200); do
    grep -q "msg=\"interface hooked\" interface=$v" "$state/agent.log" && break
    sleep 0.05
  done
done
sleep 0.3
"$PY" - "$state/monitor.log" "$state/agent.log" "$out" "${veths[@]}" <<'PYTHON'
import json, re, sys
from datetime import datetime, timezone
mon, log, out, veths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def ts(s):
    return datetime.fromisoformat(s.replace("Z", "")).replace(tzinfo=timezone.utc).timestamp()
appeared, hooked = {}, {}
for line in open(mon):
    m = re.match(r"\[([0-9T:.\-]+)\]\s+\d+: ([^:@]+)[@:]", line)
    if m and m.group(2) in veths and m.group(2) not in appeared:
        appeared[m.group(2)] = ts(m.group(1))
for line in open(log):
    m = re.search(r'ts=(\S+) .*msg="interface hooked" interface=(\S+)', line)
    if m and m.group(2) in veths and m.group(2) not in hooked:
        hooked[m.group(2)] = ts(m.group(1))
ms = [round((hooked[v] - appeared[v]) * 1e3, 1) for v in veths if v in appeared and v in hooked]
json.dump({"trials": len(veths), "measured": len(ms), "appeared_to_hooked_ms": ms,
           "not_hooked": [v for v in veths if v not in hooked],
           "not_seen_appearing": [v for v in veths if v not in appeared]}, open(out, "w"), indent=1)
print("appeared -> hooked (ms):", ms)
PYTHON
