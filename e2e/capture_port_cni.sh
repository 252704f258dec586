#!/usr/bin/env bash
# e2e: netring-agent with CNI-made pods (bridge + host-local) and a capture
# port at once, in a node namespace of its own. A "switch" namespace sends
# copies of traffic between two of the pods into the capture port (as a
# SPAN port would), while the pods talk for real.
#   1. the pods' traffic is reported by its source pod, once per flow
#   2. the capture port's frames are counted exactly (API and metrics) and
#      named by pod, reported with reporter "capture", apart from the pods' own:
#      the pods send the same UDP flow for real, and with every packet counted
#      in the kernel (--exact-flows=all) each side counts its own packets once
#      (the kernel's flow counts come from the TC sampler, which never hooks a
#      capture port)
#   3. the capture port carries the XDP program and no TC hook; pod veths
#      carry the sampler and no XDP program
#   4. SIGTERM leaves neither
# Conditions are polled with generous timeouts, never a fixed sleep.
set -euo pipefail
src=${NETRING_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${NETRING_BUILD_DIR:-$src/build}
agent_bin=$bld/netring-agent
[ -x "$agent_bin" ] || { echo "FAIL: $agent_bin missing (build the netring-agent target)"; exit 1; }
# shellcheck source=../scripts/lib/pods.sh
. "$src/scripts/lib/pods.sh"

node=nr-e2ec-node
switch=nr-e2ec-sw
port=nr-e2ec-port
span=nr-e2ec-span
state=$(mktemp -d /tmp/netring-e2e-capture.XXXXXX)
agent_pid=""
cleanup() {
  set +e
  [ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  pods_teardown
  ip netns del "$switch" 2>/dev/null
  rm -rf "$state"
}
trap cleanup EXIT
ip netns del "$node" 2>/dev/null || true
ip netns del "$switch" 2>/dev/null || true

fail() {
  echo "FAIL: $*"
  echo "--- agent log (tail)"
  grep -v "msg=starting" "$state/agent.log" 2>/dev/null | tail -n 40
  exit 1
}
wait_for() {  # TIMEOUT_S DESCRIPTION CMD...
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
hooks_on() {  # DEV -> "ingress_count egress_count" (tcx programs + classic tc filters)
  local dev=$1 tcx tcf_in tcf_eg
  tcx=$(in_node python3 "$src/e2e/lib/tcx_count.py" "$dev") || fail "tcx query on $dev"
  tcf_in=$(in_node tc filter show dev "$dev" ingress 2>/dev/null | grep -c ' bpf ' || true)
  tcf_eg=$(in_node tc filter show dev "$dev" egress 2>/dev/null | grep -c ' bpf ' || true)
  echo "$((${tcx% *} + tcf_in)) $((${tcx#* } + tcf_eg))"
}
xdp_on() { in_node ip -d link show dev "$1" | grep -c 'prog/xdp' || true; }

echo "== pods and a capture port"
pods_init "$state" nr-e2ec0 10.244.81.0/24 "$node"
pod_add a e2e-shop frontend
pod_add b e2e-shop cart
pods_write_podlist "$state/pods.json" e2e-node
A=$(pod_name a) B=$(pod_name b)
ip netns add "$switch"
# Only the copies cross the SPAN link: no IPv6 chatter from the switch side.
ip netns exec "$switch" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
ip link add "$span" netns "$switch" type veth peer name "$port" netns "$node"
ip -n "$switch" link set "$span" up
ip -n "$node" link set "$port" up
echo "   $A $(pod_ip a) / $B $(pod_ip b); capture port $port"

ip netns exec "$node" "$agent_bin" --node-name=e2e-node --pods-from="$state/pods.json" --kube-api=off \
  --label-level=pod --sample-rate=1 --exact-flows=all --capture-ports="$port" --log-level=debug \
  --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991 >>"$state/agent.log" 2>&1 &
agent_pid=$!
wait_for 60 "agent ready (/readyz)" in_node curl -sf http://127.0.0.1:9990/readyz
port_json() { api /api/v1/interfaces | jq -e --arg p "$port" '.interfaces[] | select(.name == $p)'; }
wait_for 30 "capture port attached" port_json

echo "== 1. the pods' own traffic"
pod_exec a ping -c 10 -i 0.1 -W 5 "$(pod_ip b)" >/dev/null || fail "ping a -> b"
flows() {  # SRC_POD DST_POD PROTO REPORTER -> the matching flows
  api "/api/v1/flows?limit=1000" | jq --arg s "$1" --arg d "$2" --arg p "$3" --arg r "$4" \
    '[.flows[] | select(.src.pod == $s and .dst.pod == $d and .protocol == $p and .reporter == $r)]'
}
has_flows() { [ "$(flows "$@" | jq length)" -ge 1 ]; }
wait_for 30 "icmp $A -> $B reported by its source" has_flows "$A" "$B" icmp source
icmp_done() { [ "$(flows "$A" "$B" icmp source | jq '.[0].packets')" = 10 ]; }
wait_for 30 "all 10 echo requests counted" icmp_done
[ "$(flows "$A" "$B" icmp source | jq length)" = 1 ] || fail "icmp $A -> $B: $(flows "$A" "$B" icmp source)"
echo "ok: icmp $A -> $B once, 10 packets"

echo "== 2. copies on the capture port, and the same flow for real"
# The pods' own UDP flow, the 5-tuple the copies below carry.
N2=200
pod_exec a python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 40000))
for _ in range(int(sys.argv[2])):
    s.sendto(b"x" * 200, (sys.argv[1], 8080))' "$(pod_ip b)" $N2 || fail "udp $A -> $B"
udp_done() { [ "$(flows "$A" "$B" udp source | jq '.[0].packets')" = $N2 ]; }
wait_for 30 "udp $A -> $B: $N2 packets reported by its source" udp_done
N=3000
sent=$(ip netns exec "$switch" python3 "$src/e2e/lib/send_frames.py" "$span" "$(pod_ip a)" "$(pod_ip b)" 40000 8080 $N 300) ||
  fail "generator sent $sent of $N"
port_counted() { [ "$(port_json | jq '.rx_packets')" = "$N" ] && [ "$(port_json | jq '.capture.sampled')" = "$N" ]; }
wait_for 30 "capture port counted $N frames" port_counted
p=$(port_json)
[ "$(jq -r .role <<<"$p")" = capture-port ] || fail "role: $p"
[ "$(jq -r .capture.xdp_mode <<<"$p")" = native ] || fail "mode: $p"
[ "$(jq .rx_bytes <<<"$p")" = $((N * 300)) ] || fail "bytes: $p"
[ "$(jq .capture.lost <<<"$p")" = 0 ] || fail "losses: $p"
wait_for 30 "udp $A -> $B reported by the capture port" has_flows "$A" "$B" udp capture
f=$(flows "$A" "$B" udp capture)
[ "$(jq length <<<"$f")" = 1 ] && [ "$(jq '.[0].packets' <<<"$f")" = "$N" ] && [ "$(jq '.[0].dst.port' <<<"$f")" = 8080 ] ||
  fail "capture flow: $f"
f=$(flows "$A" "$B" udp source)
[ "$(jq length <<<"$f")" = 1 ] && [ "$(jq '.[0].packets' <<<"$f")" = $N2 ] && [ "$(jq '.[0].exact' <<<"$f")" = true ] ||
  fail "the pods' own udp flow is not its $N2 packets once, exactly: $f"
ex=$(api /api/v1/status | jq '.exact_flows')
[ "$(jq -r .mode <<<"$ex")" = all ] || fail "exact flows: $ex"
[ "$(flows "$A" "$B" icmp capture | jq length)" = 0 ] || fail "the pods' ping was reported by the capture port"
echo "ok: $N frames, one flow $A -> $B udp/8080 reporter=capture; the pods' own $N2 once as theirs; their ping only as theirs"
m=$(metrics)
v=$(grep "^netring_flow_packets_total{" <<<"$m" | grep "src_pod=\"$A\"" | grep "dst_pod=\"$B\"" |
  grep 'protocol="udp"' | grep 'reporter="capture"' | awk '{print $2}')
[ "$v" = "$N" ] || fail "capture flow metric for $A -> $B: '$v' ($(grep "^netring_flow_packets_total{" <<<"$m"))"
v=$(grep "^netring_flow_packets_total{" <<<"$m" | grep "src_pod=\"$A\"" | grep "dst_pod=\"$B\"" |
  grep 'protocol="udp"' | grep 'reporter="source"' | awk '{print $2}')
[ "$v" = "$N2" ] || fail "source flow metric for $A -> $B: '$v' ($(grep "^netring_flow_packets_total{" <<<"$m"))"
v=$(grep "^netring_interface_packets_total{" <<<"$m" | grep "interface=\"$port\"" | grep 'direction="rx"' |
  grep 'role="capture-port"' | awk '{print $2}')
[ "$v" = "$N" ] || fail "interface metric: '$v' ($(grep "^netring_interface_packets_total{" <<<"$m"))"
echo "ok: /metrics names the pods (reporter=capture, and source for their own) and counts the port exactly"

echo "== 3. hooks"
[ "$(hooks_on "$port")" = "0 0" ] || fail "capture port has TC hooks: $(hooks_on "$port")"
[ "$(xdp_on "$port")" = 1 ] || fail "capture port: $(xdp_on "$port") XDP programs"
for k in a b; do
  [ "$(hooks_on "$(pod_veth $k)")" = "1 1" ] || fail "$(pod_veth $k): hooks $(hooks_on "$(pod_veth $k)")"
  [ "$(xdp_on "$(pod_veth $k)")" = 0 ] || fail "$(pod_veth $k) carries an XDP program"
done
echo "ok: XDP on the capture port only, the TC sampler on the pod veths only"

echo "== 4. SIGTERM"
kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=""
[ "$rc" = 0 ] || fail "agent exited $rc after SIGTERM"
[ "$(xdp_on "$port")" = 0 ] || fail "XDP program left on the capture port"
for k in a b; do [ "$(hooks_on "$(pod_veth $k)")" = "0 0" ] || fail "$(pod_veth $k) still hooked"; done
echo "PASS"
