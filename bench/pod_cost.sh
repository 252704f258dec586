#!/usr/bin/env bash
# Figure 9: what watching two pods costs them, netring against NetObserv's
# eBPF kernel program, as a user choosing an agent would see it (issue 13).
#
# Two pods made with the real CNI plugins (bridge + host-local,
# scripts/lib/pods.sh); their bridge and host-side veths live in a node
# namespace of their own, so an agent started there hooks only these two
# veths. Every round runs every configuration once (order rotated by one each
# round): unhooked, NetObserv sampling 1 and 50 (built from the peer's source
# with its build.sh, attached with its nobs_loader), and the netring-agent
# configurations of bench/pod_cost.py's table (started per configuration per
# round, stopped with SIGTERM). Two workloads per configuration: bulk TCP
# (iperf3, one stream) and 64-byte UDP over 10,000 flows from
# bench/pod_udp_gen (netring's AF_XDP TX) in the sender pod, pinned to the
# last CPU (--gen-cpu: the flood's whole path runs on its CPU), taken on
# arrival at the receiver pod's eth0 by bench/pod_udp_sink (consumed, not
# dropped: --udp-sink=drop makes it a drop storm instead). Then, apart from
# the timed rounds, a pass with BPF run-time statistics on: kernel ns per
# program run.
# bench/pod_cost.py does the measuring and prints the table; this script
# makes and removes the pods.
#
#   bench/pod_cost.sh [--build-dir DIR] [--rounds N] [--seconds S] [--json FILE] ...
#   bench/pod_cost.sh --help        every option
#
# Needs root. Everything it starts (agents, loaders, iperf3, the generator)
# runs inside its own namespaces and is stopped, and the namespaces removed,
# on any exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
DRIVER="$ROOT/bench/pod_cost.py"

# Options are checked before anything is created (exit 2 on a bad one).
"$PY" "$DRIVER" --check "$@" || exit $?
case " $* " in *" --help "* | *" -h "*) exit 0 ;; esac

if [ "$(id -u)" != 0 ]; then
  echo "pod_cost.sh: must run as root (network namespaces, CNI plugins, BPF and AF_XDP need CAP_NET_ADMIN," \
    "CAP_BPF, CAP_SYS_ADMIN)" >&2
  exit 1
fi
for t in ip ss iptables-save jq iperf3 bpftool curl; do
  command -v "$t" >/dev/null || {
    echo "pod_cost.sh: $t missing (run scripts/deps.sh)" >&2
    exit 1
  }
done
. "$ROOT/scripts/lib/pods.sh"

# Names unique per run: other benchmarks and tests use the same machine.
tag=nrpc$$
node=$tag-node
state=$(mktemp -d /tmp/netring-pod-cost.XXXXXX)
driver_pid=""
cleanup() {
  set +e
  if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid"
    for _ in $(seq 1 100); do kill -0 "$driver_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$driver_pid" 2>/dev/null
  fi
  # Whatever the driver left (it stops its own processes; this covers a
  # driver that was killed): every process still inside our namespaces.
  local ns
  for ns in "$node" "$tag-a" "$tag-b"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  done
  pods_teardown
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pods_init "$state" "$tag" 10.244.93.0/24 "$node"
pod_add a bench client
pod_add b bench server
pods_write_podlist "$state/pods.json" bench-node
mac() { ip -n "$(pod_netns "$1")" -j link show dev eth0 | jq -r '.[0].address'; }
jq -n --arg node "$node" --arg state "$state" --arg podlist "$state/pods.json" \
  --arg a_ns "$(pod_netns a)" --arg a_ip "$(pod_ip a)" --arg a_veth "$(pod_veth a)" --arg a_mac "$(mac a)" \
  --arg b_ns "$(pod_netns b)" --arg b_ip "$(pod_ip b)" --arg b_veth "$(pod_veth b)" --arg b_mac "$(mac b)" \
  '{node_netns: $node, state: $state, podlist: $podlist,
    sender: {netns: $a_ns, ip: $a_ip, host_veth: $a_veth, mac: $a_mac},
    receiver: {netns: $b_ns, ip: $b_ip, host_veth: $b_veth, mac: $b_mac}}' >"$state/pods-setup.json"
echo "pods: sender $(pod_ip a) (host veth $(pod_veth a)), receiver $(pod_ip b) (host veth $(pod_veth b)), node netns $node"

# Not exec: the trap above must outlive the driver.
"$PY" "$DRIVER" --setup "$state/pods-setup.json" "$@" &
driver_pid=$!
rc=0
wait "$driver_pid" || rc=$?
driver_pid=""
exit "$rc"
