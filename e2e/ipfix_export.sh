#!/usr/bin/env bash
# e2e: IPFIX flow export from the real agent on pods made by the real CNI
# plugins, to collectors from Debian (none written here): nfdump's nfcapd,
# which repeats every datagram to pmacct's nfacctd (nfcapd -R), so both get
# the same export. In a node namespace of its own: only this scenario's
# veths are hooked, the collectors listen on that namespace's loopback.
#   1. ping and iperf3 between two pods; sample rate 4, so some flows carry
#      estimates (p = min(1, gso_segs/4)) and some exact counts
#   2. per flow, nfdump's and pmacct's octets and packets equal the flow
#      API's (rounded), and pmacct reads both pods' names from netring's
#      enterprise elements
#   3. neither collector saw a sequence error; /api/v1/status and /metrics
#      show what was exported and that nothing was lost
set -euo pipefail
src=${NETRING_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${NETRING_BUILD_DIR:-$src/build}
agent_bin=$bld/netring-agent
[ -x "$agent_bin" ] || { echo "FAIL: $agent_bin missing (build the netring-agent target)"; exit 1; }
for t in nfcapd nfdump nfacctd iperf3 jq python3; do
  command -v "$t" >/dev/null || { echo "FAIL: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
# shellcheck source=../scripts/lib/pods.sh
. "$src/scripts/lib/pods.sh"

node=nr-ipfx-$$
state=$(mktemp -d /tmp/netring-e2e-ipfix.XXXXXX)
agent_pid="" nfcapd_pid="" nfacctd_pid=""
failed=0
cleanup() {
  set +e
  for p in $agent_pid $nfcapd_pid; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  # nfacctd forks its plugins into its process group.
  [ -n "$nfacctd_pid" ] && kill -KILL -- "-$nfacctd_pid" 2>/dev/null
  pods_teardown
  if [ "$failed" = 0 ]; then rm -rf "$state"; else echo "logs kept in $state"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  failed=1
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
# Background processes in the node namespace, started as simple commands
# (not through a function, which would put a subshell between): nsenter
# execs without forking, so $! is the process itself.
node_bg=(nsenter --net="/run/netns/$node" --)
api() { in_node curl -sf --max-time 10 "http://127.0.0.1:9991$1"; }
udp_bound() { in_node ss -lun | grep -q "127.0.0.1:$1 "; }
purges() { grep -c 'Purging cache - END' "$state/nfacctd.log" 2>/dev/null || true; }
purged_since() { [ "$(purges)" -ge "$1" ]; }

echo "== pods"
pods_init "$state" nr-ipfx0 10.244.83.0/24 "$node"
pod_add a e2e-shop frontend
pod_add b e2e-data redis
pods_write_podlist "$state/pods.json" e2e-node
A=$(pod_name a) B=$(pod_name b)
echo "   $A $(pod_ip a) / $B $(pod_ip b)"

echo "== collectors"
nfcapd_port=4739 nfacctd_port=4740
mkdir -p "$state/nfcapd"
for i in $(seq 1 11); do
  name=(src_ns src_pod src_workload src_kind src_node dst_ns dst_pod dst_workload dst_kind dst_node dst_service)
  echo "name=${name[$((i - 1))]} field_type=32473:$i len=vlen semantics=str"
done >"$state/primitives.lst"
cat >"$state/nfacctd.conf" <<CONF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $nfacctd_port
nfacctd_disable_checks: false
logfile: $state/nfacctd.log
aggregate_primitives: $state/primitives.lst
plugins: print[flows]
aggregate[flows]: src_host, dst_host, src_port, dst_port, proto, src_pod, dst_pod, src_ns, dst_ns
print_output[flows]: json
print_num_protos[flows]: true
print_output_file[flows]: $state/nfacctd.jsonl
print_output_file_append[flows]: true
print_refresh_time[flows]: 1
CONF
# Its own process group (setsid): nfacctd forks its plugins, and its core
# does not exit on SIGTERM while they run, so it is killed as a group.
setsid "${node_bg[@]}" nfacctd -f "$state/nfacctd.conf" >"$state/nfacctd.stdout" 2>&1 &
nfacctd_pid=$!
disown "$nfacctd_pid"  # killed as a group at the end; no job notice
"${node_bg[@]}" nfcapd -b 127.0.0.1 -p "$nfcapd_port" -w "$state/nfcapd" -t 3600 -I netring \
  -R "127.0.0.1/$nfacctd_port" >"$state/nfcapd.log" 2>&1 &
nfcapd_pid=$!
wait_for 30 "nfacctd listening" udp_bound "$nfacctd_port"
wait_for 30 "nfcapd listening" udp_bound "$nfcapd_port"
# nfacctd takes datagrams before its print plugin runs and drops what it
# hands over then: wait for the plugin's first purge.
wait_for 30 "nfacctd print plugin running" purged_since 1

echo "== 1. the agent, traffic"
"${node_bg[@]}" "$agent_bin" --node-name=e2e-node --pods-from="$state/pods.json" --kube-api=off \
  --label-level=pod --sample-rate=4 --flow-idle-timeout=10m --metrics-listen=127.0.0.1:9990 \
  --api-listen=127.0.0.1:9991 --ipfix-collector="127.0.0.1:$nfcapd_port" --ipfix-active-interval=1s \
  >"$state/agent.log" 2>&1 &
agent_pid=$!
wait_for 60 "agent ready (/readyz)" in_node curl -sf http://127.0.0.1:9990/readyz
pod_exec a ping -c 40 -i 0.02 -s 600 "$(pod_ip b)" >/dev/null || fail "ping a -> b"
ip netns exec "$(pod_netns b)" iperf3 -s -p 5201 >/dev/null 2>&1 &
wait_for 30 "iperf3 server in b" in_node bash -c "ip netns exec $(pod_netns b) ss -ltn | grep -q ':5201 '"
pod_exec a iperf3 -c "$(pod_ip b)" -p 5201 -t 2 -b 200M >/dev/null || fail "iperf3 a -> b"
pod_exec a iperf3 -c "$(pod_ip b)" -p 5201 -u -t 1 -b 5M -l 900 >/dev/null || fail "iperf3 udp a -> b"

# The flows stop growing once the traffic is over (nothing is in flight);
# the API then holds their final totals.
flows_json() { api "/api/v1/flows?limit=10000" | jq -S '.flows | map({src, dst, protocol, bytes, packets}) | sort_by(.src.ip, .src.port, .dst.ip, .dst.port, .protocol)'; }
stable() {
  local a b
  a=$(flows_json) && sleep 2 && b=$(flows_json) && [ "$a" = "$b" ] && [ "$(jq length <<<"$a")" -ge 4 ]
}
wait_for 60 "flows settled in the API" stable
api "/api/v1/flows?limit=10000" >"$state/api-flows.json"
echo "   $(jq '.flows | length' "$state/api-flows.json") flows, $(jq '[.flows[] | select(.bytes_stderr > 0)] | length' "$state/api-flows.json") of them estimated"
[ "$(jq '[.flows[] | select(.bytes_stderr > 0)] | length' "$state/api-flows.json")" -ge 1 ] ||
  fail "no estimated flow at sample rate 4 (the scenario is meant to have some)"
# Two active intervals: every flow's total is in some record by now.
sleep 3
api /api/v1/status >"$state/status.json"
jq -e '.flow_export.enabled and .flow_export.records > 0 and .flow_export.send_errors == 0
       and (.flow_export.records_lost | add) == 0' "$state/status.json" >/dev/null ||
  fail "status: $(jq -c .flow_export "$state/status.json")"
echo "ok: /api/v1/status flow_export $(jq -c '.flow_export | {messages, records, template_messages, records_lost}' "$state/status.json")"
in_node curl -sf http://127.0.0.1:9990/metrics | grep -q '^netring_flow_export_records_total{' ||
  fail "netring_flow_export_records_total missing from /metrics"
echo "ok: netring_flow_export_* in /metrics"

echo "== 2. SIGTERM: the last records (forced end), then the collectors"
# The API's last word, read just before the end: a flow that began since the
# settled read above (an IPv6 router solicitation from a pod, every few
# seconds) is in it, as it will be in the records the agent sends at exit.
api "/api/v1/flows?limit=10000" >"$state/api-flows.json"
kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=""
[ "$rc" = 0 ] || fail "agent exited $rc"
seen=$(purges)
wait_for 30 "nfacctd purged what it got" purged_since $((seen + 2))
kill -TERM "$nfcapd_pid"
wait "$nfcapd_pid" || true
nfcapd_pid=""
kill -KILL -- "-$nfacctd_pid" 2>/dev/null || true
nfacctd_pid=""
nfdump -N -q -R "$state/nfcapd" -o json >"$state/nfdump.json"
python3 "$src/e2e/lib/ipfix_compare.py" "$state/api-flows.json" "$state/nfdump.json" "$state/nfacctd.jsonl" \
  >"$state/compare.txt" || { cat "$state/compare.txt"; fail "collectors and the API disagree"; }
cat "$state/compare.txt"
echo "ok: per flow, nfdump and pmacct octets and packets == the flow API's; pmacct has both pods' names"

echo "== 3. sequence and template handling"
seqfail=$(nfdump -R "$state/nfcapd" -I | sed -n 's/^Sequence failures: *//p')
[ "$seqfail" = 0 ] || fail "nfdump: sequence failures '$seqfail'"
grep -q 'Sequence Errors: 0, Bad Packets: 0' "$state/nfcapd.log" || fail "nfcapd: $(grep -i error "$state/nfcapd.log")"
! grep -q 'expecting flow' "$state/nfacctd.log" || fail "nfacctd sequence: $(grep 'expecting flow' "$state/nfacctd.log" | head -3)"
! grep -qE 'ERROR|WARN' "$state/nfacctd.log" || fail "nfacctd: $(grep -E 'ERROR|WARN' "$state/nfacctd.log" | head -3)"
echo "ok: nfdump 0 sequence failures, nfacctd no sequence complaint"
echo "PASS"
