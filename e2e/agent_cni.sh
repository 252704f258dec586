#!/usr/bin/env bash
# e2e: netring-agent on pods made by the real CNI plugins (bridge +
# host-local, called as a container runtime calls them), in a node namespace
# of its own so that only this scenario's interfaces are hooked.
#   0. without CAP_NET_ADMIN the agent names it and exits non-zero
#   1. traffic between 3 pods shows in /api/v1/flows and /metrics by pod
#      name, once per flow, reported by its source pod as egress
#   2. a 4th pod added while the agent runs is hooked and named
#   3. a pcap from /api/v1/capture opens in tshark with the expected packets
#   4. SIGTERM exits 0 and leaves no tc/tcx hook and no mirror link
#   5. after SIGKILL, a restart leaves exactly one hook per interface and direction
# Conditions are polled with generous timeouts: never a fixed sleep that
# assumes a fast machine.
set -euo pipefail
src=${NETRING_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${NETRING_BUILD_DIR:-$src/build}
agent_bin=$bld/netring-agent
[ -x "$agent_bin" ] || { echo "FAIL: $agent_bin missing (build the netring-agent target)"; exit 1; }
# shellcheck source=../scripts/lib/pods.sh
. "$src/scripts/lib/pods.sh"

node=nr-e2ea-node
state=$(mktemp -d /tmp/netring-e2e-agent.XXXXXX)
agent_pid=""
cleanup() {
  set +e
  [ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  pods_teardown
  rm -rf "$state"
}
trap cleanup EXIT
ip netns del "$node" 2>/dev/null || true

fail() {
  echo "FAIL: $*"
  echo "--- agent log (tail)"
  grep -v "msg=starting" "$state/agent.log" 2>/dev/null | tail -n 40
  exit 1
}
# wait_for TIMEOUT_S DESCRIPTION CMD...: polls CMD until it succeeds.
wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for: $what"
    sleep 0.2
  done
  echo "ok: $what"
}
in_node() { ip netns exec "$node" "$@"; }
api() { in_node curl -sf --max-time 10 "http://127.0.0.1:9991$1"; }
metrics() { in_node curl -sf --max-time 10 http://127.0.0.1:9990/metrics; }

start_agent() {
  log_mark=$(wc -l <"$state/agent.log" 2>/dev/null || echo 0)
  ip netns exec "$node" "$agent_bin" --node-name=e2e-node --pods-from="$state/pods.json" --kube-api=off \
    --label-level=pod --sample-rate=1 --enable-capture-api --log-level=debug \
    --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991 >>"$state/agent.log" 2>&1 &
  agent_pid=$!
  wait_for 60 "agent ready (/readyz)" in_node curl -sf http://127.0.0.1:9990/readyz
}
stop_agent() {  # SIGTERM; the exit status must be 0
  kill -TERM "$agent_pid"
  local rc=0
  wait "$agent_pid" || rc=$?
  agent_pid=""
  [ "$rc" = 0 ] || fail "agent exited with status $rc after SIGTERM"
  echo "ok: agent exited 0 on SIGTERM"
}

# Hooks on an interface: tcx programs and classic tc filters, per direction.
# tc prints a bpf filter as two lines (its priority's, then the filter's
# own with its handle): count the handles.
hooks_on() {  # DEV -> "ingress_count egress_count"
  local dev=$1 tcx tcf_in tcf_eg
  tcx=$(in_node python3 "$src/e2e/lib/tcx_count.py" "$dev") || fail "tcx query on $dev"
  tcf_in=$(in_node tc filter show dev "$dev" ingress 2>/dev/null | grep ' bpf ' | grep -c ' handle ' || true)
  tcf_eg=$(in_node tc filter show dev "$dev" egress 2>/dev/null | grep ' bpf ' | grep -c ' handle ' || true)
  echo "$((${tcx% *} + tcf_in)) $((${tcx#* } + tcf_eg))"
}
hooked_since_start() {  # distinct interfaces this agent run has logged as hooked
  tail -n +"$((log_mark + 1))" "$state/agent.log" | grep 'msg="interface hooked"' |
    sed 's/.*interface=\([^ ]*\).*/\1/' | sort -u | wc -l
}
mirror_links() { in_node ip -o link show | grep -c 'nr-mirror' || true; }

flow_count() {  # SRC_POD DST_POD PROTO [DIRECTION REPORTER]: matching flows in the API
  api "/api/v1/flows?limit=1000" | jq --arg s "$1" --arg d "$2" --arg p "$3" --arg dir "${4:-}" --arg rep "${5:-}" \
    '[.flows[] | select(.src.pod == $s and .dst.pod == $d and .protocol == $p
        and ($dir == "" or .direction == $dir) and ($rep == "" or .reporter == $rep))] | length'
}
flow_packets() {  # SRC_POD DST_POD PROTO: summed packet estimate
  api "/api/v1/flows?limit=1000" | jq --arg s "$1" --arg d "$2" --arg p "$3" \
    '[.flows[] | select(.src.pod == $s and .dst.pod == $d and .protocol == $p) | .packets] | add // 0'
}
has_flow() { [ "$(flow_count "$@")" -ge 1 ]; }

echo "== pods"
pods_init "$state" nr-e2ea0 10.244.79.0/24 "$node"
pod_add a e2e-shop frontend
pod_add b e2e-shop cart
pod_add c e2e-data redis
pods_write_podlist "$state/pods.json" e2e-node
A=$(pod_name a) B=$(pod_name b) C=$(pod_name c)
echo "   $A $(pod_ip a) / $B $(pod_ip b) / $C $(pod_ip c)"

echo "== 0. missing privileges are named"
rc=0
out=$(ip netns exec "$node" setpriv --bounding-set -net_admin "$agent_bin" --pods-from="$state/pods.json" \
  --kube-api=off --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "agent without CAP_NET_ADMIN exited 0"
grep -q 'needs CAP_NET_ADMIN' <<<"$out" || fail "no capability named: $out"
echo "ok: without CAP_NET_ADMIN: exit $rc, '$(tail -n1 <<<"$out" | cut -c1-80)...'"

echo "== 1. traffic between 3 pods"
start_agent
pod_exec a ping -c 10 -i 0.1 -W 5 "$(pod_ip b)" >/dev/null || fail "ping a -> b"
# The server lives until the pod is deleted (pod_del ends what runs in it).
ip netns exec "$(pod_netns c)" iperf3 -s -p 5201 >/dev/null 2>&1 &
wait_for 30 "iperf3 server in c listening" in_node bash -c \
  "ip netns exec $(pod_netns c) ss -ltn | grep -q ':5201 '"
pod_exec a iperf3 -c "$(pod_ip c)" -p 5201 -t 2 -b 20M >/dev/null || fail "iperf3 a -> c"

wait_for 30 "icmp $A -> $B in /api/v1/flows, egress reported by source" has_flow "$A" "$B" icmp egress source
wait_for 30 "icmp reply $B -> $A in /api/v1/flows, egress reported by source" has_flow "$B" "$A" icmp egress source
wait_for 30 "tcp $A -> $C in /api/v1/flows" has_flow "$A" "$C" tcp egress source
# Every packet is sampled (rate 1) and sampled once: at the sender's veth,
# never again where it leaves the bridge to the receiver.
[ "$(flow_count "$A" "$B" icmp)" = 1 ] || fail "icmp $A -> $B appears $(flow_count "$A" "$B" icmp) times (want 1)"
n=$(flow_packets "$A" "$B" icmp)
[ "$n" = 10 ] || fail "icmp $A -> $B: $n packets estimated at rate 1 (want exactly the 10 echo requests)"
echo "ok: icmp $A -> $B counted once, 10 packets"
metric_line() {  # NAME SRC DST PROTO
  metrics | grep "^$1{" | grep "src_pod=\"$2\"" | grep "dst_pod=\"$3\"" | grep "protocol=\"$4\"" |
    grep 'direction="egress"' | grep 'reporter="source"'
}
wait_for 30 "netring_flow_packets_total for $A -> $B icmp in /metrics" metric_line netring_flow_packets_total "$A" "$B" icmp
[ "$(metric_line netring_flow_packets_total "$A" "$B" icmp | awk '{print $2}')" = 10 ] ||
  fail "metric: $(metric_line netring_flow_packets_total "$A" "$B" icmp)"
bytes=$(metric_line netring_flow_bytes_total "$A" "$C" tcp | awk '{print int($2)}')
[ "${bytes:-0}" -gt 1000000 ] || fail "tcp $A -> $C bytes in /metrics: ${bytes:-none} (iperf3 sent ~5 MB)"
echo "ok: /metrics names the pods ($A -> $C tcp: $bytes bytes)"

for k in a b c; do
  [ "$(hooks_on "$(pod_veth $k)")" = "1 1" ] || fail "$(pod_veth $k) while running: hooks $(hooks_on "$(pod_veth $k)") (want 1 1)"
done
echo "ok: one hook per direction on each pod veth"

echo "== 2. a 4th pod while running"
pod_add d e2e-data worker
pods_write_podlist "$state/pods.json" e2e-node
D=$(pod_name d)
wait_for 30 "$(pod_veth d) hooked" grep -q "interface hooked\" interface=$(pod_veth d)" "$state/agent.log"
wait_for 30 "--pods-from reloaded with $D" grep -q 'msg="reloaded pods".*pods=4' "$state/agent.log"
pod_exec d ping -c 5 -i 0.1 -W 5 "$(pod_ip a)" >/dev/null || fail "ping d -> a"
wait_for 30 "icmp $D -> $A in /api/v1/flows" has_flow "$D" "$A" icmp egress source

echo "== 3. capture"
api_capture() {
  in_node curl -sf --max-time 60 -o "$state/capture.pcap" \
    "http://127.0.0.1:9991/api/v1/capture?filter=icmp&duration=20s&max_packets=10"
}
api_capture &
cap_pid=$!
wait_for 30 "capture running" bash -c "$(declare -f api in_node); node=$node; api /api/v1/status | jq -e '.capture_api.running'"
pod_exec b ping -c 10 -i 0.1 -W 5 "$(pod_ip c)" >/dev/null || fail "ping b -> c"
wait "$cap_pid" || fail "capture request failed"
got=$(tshark -r "$state/capture.pcap" -Y "icmp.type == 8 && ip.src == $(pod_ip b) && ip.dst == $(pod_ip c)" -T fields \
  -e frame.number 2>/dev/null | wc -l)
all=$(tshark -r "$state/capture.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
[ "$all" -ge 1 ] && [ "$all" -le 10 ] || fail "capture holds $all packets (max_packets=10)"
[ "$got" -ge 5 ] || fail "capture: $got echo requests $B -> $C of $all packets (want >= 5 of the 10 sent)"
echo "ok: pcap opens in tshark: $got echo requests $B -> $C ($all packets)"

# No pod went away: a pod veth unhooked meanwhile means discovery misread
# a notification (e.g. a bridge port's AF_BRIDGE RTM_NEWLINK).
! grep -q 'msg="interface unhooked"' "$state/agent.log" || fail "a live pod veth was unhooked"

echo "== 4. SIGTERM"
stop_agent
for k in a b c d; do
  [ "$(hooks_on "$(pod_veth $k)")" = "0 0" ] || fail "$(pod_veth $k) still hooked after SIGTERM: $(hooks_on "$(pod_veth $k)")"
done
[ "$(mirror_links)" = 0 ] || fail "mirror link left after SIGTERM"
echo "ok: no hook and no mirror link left"

test_hooked() { [ "$(hooked_since_start)" -ge "$1" ]; }
echo "== 5. SIGKILL, then restart"
start_agent
wait_for 30 "4 interfaces hooked" test_hooked 4
kill -KILL "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
agent_pid=""
# tcx links die with the process that held them; classic tc filters stay and
# must be replaced, not doubled, by the next agent.
echo "   after SIGKILL: $(pod_veth a) hooks $(hooks_on "$(pod_veth a)"), mirror link ends $(mirror_links)"
start_agent
wait_for 30 "4 interfaces hooked again" test_hooked 4
for k in a b c d; do
  h=$(hooks_on "$(pod_veth $k)")
  [ "$h" = "1 1" ] || fail "$(pod_veth $k) after restart: ingress/egress hooks $h (want 1 1)"
done
[ "$(mirror_links)" = 2 ] || fail "mirror link ends after restart: $(mirror_links) (want 2)"
echo "ok: exactly one hook per interface and direction, one mirror link"
pod_exec a ping -c 5 -i 0.1 -W 5 "$(pod_ip b)" >/dev/null || fail "ping a -> b after restart"
wait_for 30 "flows after restart" has_flow "$A" "$B" icmp egress source
stop_agent
for k in a b c d; do
  [ "$(hooks_on "$(pod_veth $k)")" = "0 0" ] || fail "$(pod_veth $k) hooked after the final SIGTERM"
done
[ "$(mirror_links)" = 0 ] || fail "mirror link left after the final SIGTERM"
echo "PASS"
