#!/usr/bin/env bash
# e2e: packet drops and TCP retransmissions through the whole agent, by
# workload, against the kernel's own counters. Pods made by the real CNI
# bridge + host-local plugins, names from the FAKE Kubernetes API server (no
# real one can run here).
#   1. an iptables DROP rule in the server pod for the client -> server pair:
#      netring_drops_total{reason="NETFILTER_DROP", client -> server} equals
#      the rule's packet counter; /api/v1/drops lists them with reason and
#      both pods; bad queries get a 400 JSON body
#   2. UDP to a port nobody listens on: reason NO_SOCKET equals the server
#      pod's Udp NoPorts
#   3. loss on a TCP transfer (iptables' statistic match: this kernel has no
#      netem): netring_tcp_retransmits_total and the flows' tcp_retransmits
#      equal the client pod's Tcp RetransSegs
#   4. --drops=off --tcp-retransmits=off: the same events leave no series,
#      and the status names why
#   5. without CAP_PERFMON (and CAP_SYS_ADMIN) the agent runs on without
#      them, and its log and status name the capability
# The tracepoints see the whole machine: every comparison is restricted to
# this scenario's pods (their workload labels, their addresses).
LIB="$(cd "$(dirname "$0")/lib" && pwd)"
export E2E_BRIDGE=nre2ek0 E2E_SUBNET=10.214.0.0/24 E2E_GATEWAY=10.214.0.1
source "$LIB/common.sh"
source "$LIB/pods.sh"
source "$LIB/kubeapi.sh"
source "$LIB/agent.sh"

need_root
need_tool jq iperf3 iptables curl
[ -x "$E2E_BUILD/netring-agent" ] || die "no agent at $E2E_BUILD/netring-agent (build it first)"
[ -x "$E2E_BUILD/tests/fake-kube-apiserver" ] || die "no fake API server at $E2E_BUILD/tests/fake-kube-apiserver"

NS=e2e-kev
CLIENT=client-7c9d5-x2k4p # Deployment client -> ReplicaSet client-7c9d5
SERVER=server-0           # StatefulSet server
pods_bridge_cleanup
pod_add "$NS" "$CLIENT"
pod_add "$NS" "$SERVER"
CIP=${POD_IP[$NS/$CLIENT]} SIP=${POD_IP[$NS/$SERVER]}
kube_pod "$NS" "$CLIENT" "$CIP" ReplicaSet client-7c9d5 7c9d5
kube_pod "$NS" "$SERVER" "$SIP" StatefulSet server
kube_start
only_ours="^(?!(${POD_HOSTVETH[$NS/$CLIENT]}|${POD_HOSTVETH[$NS/$SERVER]})\$).*"

start_agent() {
  agent_start --node-name "$(hostname)" --kubeconfig "$KUBECONFIG_FILE" --interfaces-exclude "$only_ours" \
    --label-level workload "$@"
  wait_for 90 "agent ready" agent_ready || die "agent not ready: $(tail -5 "$AGENT_LOG")"
}
metrics() { curl -sf "http://$AGENT_METRICS/metrics"; }
# The value of NAME for client -> server with extra label matches (grep -F).
series() { # NAME [LABEL=VALUE...]
  local name=$1 m
  shift
  m=$(metrics | grep "^$name{" | grep -F "src_workload=\"client\"" | grep -F "dst_workload=\"server\"")
  for l in "$@"; do m=$(grep -F "$l" <<<"$m" || true); done
  awk '{s += $2} END {printf "%d", s}' <<<"$m"
}
snmp() { # POD PROTO FIELD: /proc/net/snmp counter in the pod's namespace
  pod_exec "$NS" "$1" awk -v p="$2:" -v f="$3" \
    '$1 == p && !h {for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next}
     $1 == p && h {for (i = 2; i <= NF; i++) if (n[i] == f) print $i}' /proc/net/snmp
}
rule_packets() { # POD CHAIN MATCH: packet counter of the first rule mentioning MATCH
  pod_exec "$NS" "$1" iptables -L "$2" -v -x -n | awk -v m="$3" 'index($0, m) {print $1; exit}'
}
udp_send() { # POD DST PORT COUNT
  pod_exec "$NS" "$1" /usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])): s.sendto(b'x' * 100, (sys.argv[1], int(sys.argv[2])))" "$2" "$3" "$4"
}
series_is() { # WANT NAME [LABEL...]
  local want=$1
  shift
  [ "$(series "$@")" = "$want" ]
}

start_agent
jq -e '.kernel_events.drops.enabled and .kernel_events.tcp_retransmits.enabled' <(api_get /api/v1/status) >/dev/null ||
  die "kernel events not enabled: $(api_get /api/v1/status | jq -c .kernel_events)"

# --- 1. an iptables DROP rule for one pod pair ------------------------------
log "1. iptables DROP for $CLIENT -> $SERVER"
pod_exec "$NS" "$SERVER" iptables -A INPUT -s "$CIP" -p udp --dport 9 -j DROP
udp_send "$CLIENT" "$SIP" 9 25
rule=$(rule_packets "$SERVER" INPUT "dpt:9")
[ "$rule" = 25 ] || fail "the rule counted $rule packets (25 sent)"
if wait_for 30 "netring_drops_total NETFILTER_DROP = $rule" series_is "$rule" netring_drops_total \
  'reason="NETFILTER_DROP"' 'protocol="udp"'; then
  pass "netring_drops_total{reason=NETFILTER_DROP, client -> server, udp} = $rule = the rule's counter"
else
  fail "netring_drops_total NETFILTER_DROP client -> server: $(series netring_drops_total 'reason="NETFILTER_DROP"') (rule: $rule)"
fi
q="/api/v1/drops?reason=NETFILTER_DROP&from_pod=$NS/$CLIENT&limit=1000"
d=$(api_get "$q")
n=$(jq --arg s "$SERVER" '[.drops[] | select(.dst.pod == $s and .dst.port == 9 and .protocol == "udp" and .src.workload == "client")] | length' <<<"$d")
if [ "$n" -ge 1 ] && [ "$n" -le 25 ] && [ "$(jq '.count' <<<"$d")" = "$n" ]; then
  pass "/api/v1/drops lists $n of the 25 drops with reason, pods and port (details are rate-limited)"
else
  fail "/api/v1/drops: $n matching details of $(jq .count <<<"$d"): $(jq -c '.drops[0]' <<<"$d")"
fi
for bad in "reason=no%20such" "port=70000" "sort=bytes" "limit=0"; do
  code=$(curl -s -o "$E2E_TMP/bad.json" -w '%{http_code}' "http://$AGENT_API/api/v1/drops?$bad")
  [ "$code" = 400 ] && jq -e '.error' "$E2E_TMP/bad.json" >/dev/null ||
    fail "/api/v1/drops?$bad: HTTP $code $(cat "$E2E_TMP/bad.json")"
done
pass "bad /api/v1/drops queries: 400 with a JSON error"

# --- 2. UDP to a closed port ------------------------------------------------
log "2. UDP to a closed port of $SERVER"
before=$(snmp "$SERVER" Udp NoPorts)
udp_send "$CLIENT" "$SIP" 7 17
noports=$(($(snmp "$SERVER" Udp NoPorts) - before))
[ "$noports" = 17 ] || fail "Udp NoPorts grew by $noports (17 sent)"
if wait_for 30 "netring_drops_total NO_SOCKET = $noports" series_is "$noports" netring_drops_total \
  'reason="NO_SOCKET"' 'protocol="udp"'; then
  pass "netring_drops_total{reason=NO_SOCKET, client -> server} = $noports = Udp NoPorts"
else
  fail "NO_SOCKET: $(series netring_drops_total 'reason="NO_SOCKET"') (Udp NoPorts: $noports)"
fi

# --- 3. TCP retransmissions under loss --------------------------------------
log "3. iperf3 $CLIENT -> $SERVER with 2% loss at the server's input"
pod_exec "$NS" "$SERVER" iperf3 -s -D -B "$SIP" --pidfile "$E2E_TMP/iperf3.pid" --logfile "$E2E_TMP/iperf3.log"
on_exit "kill \$(cat $E2E_TMP/iperf3.pid)"
pod_exec "$NS" "$SERVER" iptables -A INPUT -p tcp --dport 5201 -m statistic --mode random --probability 0.02 -j DROP
lossy_transfer() {
  local t0 t1 i
  RETRANS_BEFORE=$(snmp "$CLIENT" Tcp RetransSegs)
  for i in $(seq 1 30); do
    pod_exec "$NS" "$CLIENT" iperf3 -c "$SIP" -t 2 -b 100M >/dev/null 2>&1 && break
    sleep 0.5
  done
  # Until the namespace's counter holds still (closing segments may follow).
  t1=$(snmp "$CLIENT" Tcp RetransSegs)
  for i in $(seq 1 20); do
    sleep 1
    t0=$t1
    t1=$(snmp "$CLIENT" Tcp RetransSegs)
    [ "$t0" != "$t1" ] || break
  done
  RETRANS=$((t1 - RETRANS_BEFORE))
}
retrans_status() { api_get /api/v1/status | jq -c '.kernel_events.tcp_retransmits'; }
retrans_fail() { pod_exec "$NS" "$CLIENT" nstat -asz TcpExtTCPRetransFail | awk '$1 == "TcpExtTCPRetransFail" {print $2}'; }
STATUS_BEFORE=$(retrans_status)
FAIL_BEFORE=$(retrans_fail)
lossy_transfer
[ "$RETRANS" -gt 0 ] || fail "2% loss made no retransmissions"
# Up to 6.12 the tracepoint misses retransmissions refused below TCP, which
# RetransSegs counts and TCPRetransFail too (bpf/tcp_retrans.bpf.c).
FAILED=$(($(retrans_fail) - FAIL_BEFORE))
if [ "$(jq -r .program <<<"$STATUS_BEFORE")" = "raw_tp (sk, skb)" ]; then RETRANS=$((RETRANS - FAILED)); fi
if wait_for 30 "netring_tcp_retransmits_total = $RETRANS" series_is "$RETRANS" netring_tcp_retransmits_total; then
  pass "netring_tcp_retransmits_total{client -> server} = $RETRANS = the client's Tcp RetransSegs delta ($FAILED refused below TCP)"
else
  fail "netring_tcp_retransmits_total: $(series netring_tcp_retransmits_total) (RetransSegs: $RETRANS, TCPRetransFail: $FAILED); status before $STATUS_BEFORE, after $(retrans_status); every series: $(metrics | grep '^netring_tcp_retransmits_total{' | tr '\n' ' ')"
fi
flow_retrans() {
  api_get "/api/v1/flows?from_pod=$NS/$CLIENT&to_pod=$NS/$SERVER&protocol=tcp&limit=1000" |
    jq '[.flows[].tcp_retransmits] | add // 0'
}
flow_retrans_is() { [ "$(flow_retrans)" = "$1" ]; }
if wait_for 30 "flows' tcp_retransmits = $RETRANS" flow_retrans_is "$RETRANS"; then
  pass "/api/v1/flows: tcp_retransmits of client -> server flows sum to $RETRANS"
else
  fail "/api/v1/flows tcp_retransmits: $(flow_retrans) (RetransSegs: $RETRANS): $(api_get "/api/v1/flows?from_pod=$NS/$CLIENT&protocol=tcp&limit=1000" | jq -c '[.flows[] | {src: .src.port, dst: .dst.port, tcp_retransmits, bytes}]')"
fi
drops_total=$(series netring_drops_total 'reason="NETFILTER_DROP"' 'protocol="tcp"')
lost=$(rule_packets "$SERVER" INPUT "dpt:5201")
if [ "$drops_total" = "$lost" ]; then
  pass "the loss itself: $lost drops (skbs) by reason NETFILTER_DROP = the statistic rule's counter"
else
  fail "the loss: netring_drops_total NETFILTER_DROP tcp $drops_total, rule $lost"
fi
agent_stop || fail "agent exit status"

# --- 4. both off --------------------------------------------------------------
log "4. --drops=off --tcp-retransmits=off"
start_agent --drops=off --tcp-retransmits=off
st=$(api_get /api/v1/status)
jq -e '(.kernel_events.drops.enabled | not) and (.kernel_events.drops.reason | test("--drops=off"))
  and (.kernel_events.tcp_retransmits.enabled | not)
  and (.kernel_events.tcp_retransmits.reason | test("--tcp-retransmits=off"))' <<<"$st" >/dev/null ||
  fail "status with both off: $(jq -c .kernel_events <<<"$st")"
udp_send "$CLIENT" "$SIP" 9 10
lossy_transfer
sleep 3 # several publication rounds
[ "$RETRANS" -gt 0 ] || fail "the second lossy transfer made no retransmissions"
! metrics | grep -q '^netring_drops_total{' || fail "--drops=off still exports drops"
! metrics | grep -q '^netring_tcp_retransmits_total{' || fail "--tcp-retransmits=off still exports retransmits"
[ "$(api_get /api/v1/drops | jq '.count')" = 0 ] || fail "--drops=off: /api/v1/drops not empty"
[ "$(flow_retrans)" = 0 ] || fail "--tcp-retransmits=off: flows show $(flow_retrans) retransmits"
pass "off: no drop or retransmit series, no drop details, no flow retransmits ($RETRANS happened)"
agent_stop || fail "agent exit status"

# --- 5. without the capability ------------------------------------------------
log "5. without CAP_PERFMON"
setpriv --bounding-set -perfmon,-sys_admin --inh-caps -perfmon,-sys_admin true ||
  die "setpriv cannot drop CAP_PERFMON here"
_agent_bin=$E2E_BUILD/netring-agent
agent_start_unprivileged() {
  AGENT_LOG="$E2E_TMP/agent-noperfmon.log"
  setpriv --bounding-set -perfmon,-sys_admin --inh-caps -perfmon,-sys_admin "$_agent_bin" \
    --metrics-listen "$AGENT_METRICS" --api-listen "$AGENT_API" --node-name "$(hostname)" \
    --kubeconfig "$KUBECONFIG_FILE" --interfaces-exclude "$only_ours" >"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  on_exit "agent_stop"
}
agent_start_unprivileged
wait_for 90 "agent ready without CAP_PERFMON" agent_ready || die "agent not ready: $(tail -5 "$AGENT_LOG")"
st=$(api_get /api/v1/status)
jq -e '(.kernel_events.drops.enabled | not) and (.kernel_events.drops.reason | test("CAP_PERFMON"))
  and (.kernel_events.tcp_retransmits.reason | test("CAP_PERFMON"))' <<<"$st" >/dev/null ||
  fail "status without CAP_PERFMON: $(jq -c .kernel_events <<<"$st")"
grep -q 'packet drops unavailable.*CAP_PERFMON' "$AGENT_LOG" || fail "the log does not name CAP_PERFMON"
pass "without CAP_PERFMON: the agent runs, drops and retransmits off, CAP_PERFMON named in status and log"
agent_stop || fail "agent exit status"
[ "$E2E_FAILED" = 0 ] && log PASS
