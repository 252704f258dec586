#!/usr/bin/env bash
# The demo: installs what is missing, builds the agent, creates three pods
# with the real CNI plugins (bridge + host-local, called as a container
# runtime calls them), starts netring-agent with --pods-from describing them,
# forwards its API port to this machine's loopback (as `kubectl
# port-forward` would), runs traffic between the pods and prints where to
# look: the page at http://127.0.0.1:9991/ and `netring` commands.
#
# The pods' bridge and host-side veths live in a namespace of their own
# (nr-demo-node, standing in for a node), so the agent hooks only the demo's
# interfaces and none of the host's.
#
# Usage (as root): ./scripts/demo.sh            runs until Ctrl-C
#                  DEMO_DURATION=20 ./scripts/demo.sh   stops after 20 s
#                  DEMO_PORT=19991 ./scripts/demo.sh    the API forwarded to another local port
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/pods.sh

if [ "$(id -u)" != 0 ]; then
  echo "demo.sh: run as root (network namespaces, CNI plugins and BPF need it)" >&2
  exit 1
fi

./scripts/deps.sh
build=${NETRING_BUILD_DIR:-build/demo}
echo "== building netring-agent and netring (Release) in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DNETRING_BUILD_TESTS=OFF -DNETRING_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target netring-agent netring >/dev/null
agent_bin=$(realpath "$build/netring-agent")
cli_bin=$(realpath "$build/netring")
"$agent_bin" --version
port=${DEMO_PORT:-9991}

node=nr-demo-node
state=$(mktemp -d /tmp/netring-demo.XXXXXX)
agent_pid=""
forward_pids=()
cleanup() {
  set +e
  for p in "${forward_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"
    wait "$agent_pid"
    echo "== agent stopped (exit status $?)"
  fi
  pods_teardown
  rm -rf "$state"
  echo "== pods, bridge and namespaces removed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A node namespace so stale demo state from an interrupted run never blocks a new one.
ip netns del "$node" 2>/dev/null || true

echo "== creating pods (CNI bridge + host-local on nr-demo0, 10.244.77.0/24)"
pods_init "$state" nr-demo0 10.244.77.0/24 "$node"
pod_add web shop frontend
pod_add cart shop cart
pod_add cache data redis
for k in web cart cache; do
  printf '   %-34s %-14s veth %s\n' "$(pod_name $k)" "$(pod_ip $k)" "$(pod_veth $k)"
done
pods_write_podlist "$state/pods.json" demo-node

echo "== starting netring-agent --pods-from $state/pods.json"
ip netns exec "$node" "$agent_bin" --node-name=demo-node --pods-from="$state/pods.json" --kube-api=off \
  --label-level=pod --sample-rate="${DEMO_SAMPLE_RATE:-20}" --enable-capture-api \
  --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991 >"$state/agent.log" 2>&1 &
agent_pid=$!
in_node() { ip netns exec "$node" "$@"; }
for _ in $(seq 1 300); do
  in_node curl -sf http://127.0.0.1:9990/readyz >/dev/null 2>&1 && break
  kill -0 "$agent_pid" 2>/dev/null || { cat "$state/agent.log"; exit 1; }
  sleep 0.1
done
in_node curl -sf http://127.0.0.1:9990/readyz >/dev/null || { echo "agent not ready"; cat "$state/agent.log"; exit 1; }
grep -E 'data path ready|interface hooked|msg=ready' "$state/agent.log" | sed 's/^/   /'

# What `kubectl port-forward` does for a cluster: the agent's loopback API
# reachable on this machine's loopback. Two socats meet at a Unix socket, one
# inside the node namespace, one here.
echo "== forwarding the agent's API to 127.0.0.1:$port"
ip netns exec "$node" socat "UNIX-LISTEN:$state/api.sock,fork" TCP:127.0.0.1:9991 &
forward_pids+=($!)
for _ in $(seq 1 50); do [ -S "$state/api.sock" ] && break; sleep 0.1; done
socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$state/api.sock" 2>"$state/forward.log" &
forward_pids+=($!)
sleep 0.3
if ! curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then
  echo "   127.0.0.1:$port does not answer (taken by something else? $(cat "$state/forward.log")); try DEMO_PORT=19991" >&2
  exit 1
fi
server_flag=""
[ "$port" = 9991 ] || server_flag=" --server 127.0.0.1:$port"

echo "== traffic: web -> cart (iperf3 TCP), cart -> cache (iperf3 TCP :6379), web -> cache (ping)"
ip netns exec "$(pod_netns cart)" iperf3 -s -p 5201 >/dev/null 2>&1 &
ip netns exec "$(pod_netns cache)" iperf3 -s -p 6379 >/dev/null 2>&1 &
sleep 0.5
# Bounded rates: a demo, not a load test on a shared machine.
ip netns exec "$(pod_netns web)" bash -c "while :; do iperf3 -c $(pod_ip cart) -p 5201 -t 5 -b 40M >/dev/null 2>&1 || sleep 0.5; done" &
ip netns exec "$(pod_netns cart)" bash -c "while :; do iperf3 -c $(pod_ip cache) -p 6379 -t 5 -b 10M >/dev/null 2>&1 || sleep 0.5; done" &
ip netns exec "$(pod_netns web)" ping -q -i 0.2 "$(pod_ip cache)" >/dev/null 2>&1 &

for _ in $(seq 1 100); do
  n=$(in_node curl -s 'http://127.0.0.1:9991/api/v1/flows?protocol=tcp' | jq '.count' 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.2
done
sleep 2

cat <<TXT

== the page (service map, flows, follow, the agent's status): open
   http://127.0.0.1:$port/

== the command line (like hubble observe; doc/cli.md):
   $cli_bin observe$server_flag --namespace shop
   $cli_bin observe$server_flag --follow --protocol tcp          # Ctrl-C ends it
   $cli_bin top$server_flag                                      # bytes/s by workload pair, refreshing
   $cli_bin top workloads$server_flag --by packets --window 1m
   $cli_bin status$server_flag
   $cli_bin capture$server_flag -w demo.pcap --filter 'tcp port 6379' --duration 3s

== raw API and metrics (the agent runs in the node namespace $node):
   ip netns exec $node curl -s http://127.0.0.1:9990/metrics | grep netring_flow
   ip netns exec $node curl -s 'http://127.0.0.1:9991/api/v1/flows?protocol=tcp&sort=bytes&limit=5'
   ip netns exec $node curl -s 'http://127.0.0.1:9991/api/v1/top?key=pair&by=bytes'
   ip netns exec $node curl -s http://127.0.0.1:9991/api/v1/interfaces
   ip netns exec $node curl -s http://127.0.0.1:9991/api/v1/status
   ip netns exec $node curl -s 'http://127.0.0.1:9991/api/v1/capture?filter=tcp&duration=2s' > demo.pcap
   agent log: $state/agent.log

TXT
excerpt() {
  echo "-- /metrics (flow bytes by pod, top 6):"
  in_node curl -s http://127.0.0.1:9990/metrics | grep '^netring_flow_bytes_total' | sort -t' ' -k2 -g -r | head -6 |
    sed 's/^/   /'
  echo "-- /api/v1/flows (top 4 by bytes):"
  in_node curl -s 'http://127.0.0.1:9991/api/v1/flows?sort=bytes&limit=4' |
    jq -r '.flows[] | "   \(if .src.pod == "" then .src.ip else .src.pod end) -> \(if .dst.pod == "" then .dst.ip else .dst.pod end) \(.protocol):\(.dst.port) \(.direction) reporter=\(.reporter) bytes~\(.bytes|floor) [99%: \(.bytes_ci99[0]|floor)..\(.bytes_ci99[1]|floor)]"'
}
excerpt

end=$((SECONDS + ${DEMO_DURATION:-0}))
while [ -z "${DEMO_DURATION:-}" ] || [ "$SECONDS" -lt "$end" ]; do
  sleep 10 &
  wait $! || true
  [ -n "${DEMO_DURATION:-}" ] && [ "$SECONDS" -ge "$end" ] && break
  echo "-- $(date +%T) samples received: $(in_node curl -s http://127.0.0.1:9991/api/v1/status | jq '.samples.received')"
done
echo "== final excerpt"
excerpt
