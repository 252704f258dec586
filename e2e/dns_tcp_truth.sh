#!/usr/bin/env bash
# e2e: DNS and TCP handshakes against real servers, the agent sampling 1 in
# 1000000 (so only the always-copied control packets can tell):
#   1. dnsmasq (Debian) in a pod serves a known zone; another pod queries
#      with dig names that exist (NOERROR) and names that do not (NXDOMAIN),
#      and a third pod runs a UDP listener that never answers (timeouts).
#      The DNS server is 10 ms away: tc netem on its veth where the kernel
#      has netem, else a relay in its pod that holds each query for 10 ms.
#      Ground truth: dig's own status lines for the counts (exact), and
#      tshark on the veths for the times: every latency netring
#      reports equals tshark's query -> response time (dns.time) within
#      1 ms; with netem, the latencies and the histogram's median and 90th
#      percentile lie within 1 ms of the 10 ms delay.
#   2. curl to a web server (20 ms away with netem): attempts and established
#      connections equal the number of curls, each connection's SYN ->
#      SYN-ACK equals tshark's within 1 ms (with netem: within 1 ms of
#      20 ms, in the API and the histogram); connections to a closed port are
#      reset by the server.
#   3. --dns=off --tcp-handshake=off: none of it (the flags' effect).
set -euo pipefail
src=${NETRING_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${NETRING_BUILD_DIR:-$src/build}
agent_bin=$bld/netring-agent
[ -x "$agent_bin" ] || { echo "FAIL: $agent_bin missing (build the netring-agent target)"; exit 1; }
# shellcheck source=../scripts/lib/pods.sh
. "$src/scripts/lib/pods.sh"

node=nr-e2edns-node
state=$(mktemp -d /tmp/netring-e2e-dns.XXXXXX)
agent_pid=""
cleanup() {
  set +e
  [ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  [ -n "${dumpcap_pid:-}" ] && kill -TERM "$dumpcap_pid" 2>/dev/null
  pods_teardown
  ip netns del "$node" 2>/dev/null
  rm -rf "$state"
}
trap cleanup EXIT
ip netns del "$node" 2>/dev/null || true

fail() {
  echo "FAIL: $*"
  [ -z "$agent_pid" ] || { echo "--- status"; api /api/v1/status | jq -c '{dns, tcp_handshake, forced_copies}'; }
  echo "--- agent log (tail)"
  grep -v "msg=starting" "$state/agent.log" 2>/dev/null | tail -n 40
  exit 1
}
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
  ip netns exec "$node" "$agent_bin" --node-name=e2e-node --pods-from="$state/pods.json" --kube-api=off \
    --label-level=pod --sample-rate=1000000 --dns-timeout=2s --flow-idle-timeout=10m "$@" \
    --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991 >>"$state/agent.log" 2>&1 &
  agent_pid=$!
  wait_for 60 "agent ready (/readyz)" in_node curl -sf http://127.0.0.1:9990/readyz
}
stop_agent() {
  kill -TERM "$agent_pid"
  wait "$agent_pid" || fail "agent exited non-zero"
  agent_pid=""
}
# metric NAME SRC DST [EXTRA_MATCH]: the value of one series (0 when absent).
metric() {
  metrics | awk -v name="$1{" -v src="src_pod=\"$2\"" -v dst="dst_pod=\"$3\"" -v extra="${4:-}" '
    index($0, name) == 1 && index($0, src) && index($0, dst) && index($0, extra) {s += $2}
    END {printf "%d", s}'
}
# quantile Q NAME SRC DST [EXTRA]: histogram_quantile as Prometheus computes it
# (linear within the bucket), over one series' buckets.
quantile() {
  metrics | awk -v name="$2_bucket{" -v src="src_pod=\"$3\"" -v dst="dst_pod=\"$4\"" -v extra="${5:-}" '
    index($0, name) == 1 && index($0, src) && index($0, dst) && index($0, extra)' |
    sed 's/.*le="\([^"]*\)".* \([0-9.e+]*\)$/\1 \2/' | /usr/bin/python3 -c '
import sys
q = float(sys.argv[1])
b = sorted((float("inf") if le == "+Inf" else float(le), float(c)) for le, c in (l.split() for l in sys.stdin))
total = b[-1][1]
rank = q * total
prev_le, prev_c = 0.0, 0.0
for le, c in b:
    if c >= rank:
        print(prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c) if c > prev_c else le)
        break
    prev_le, prev_c = le, c' "$1"
}
within() {  # VALUE LOW HIGH
  /usr/bin/python3 -c 'import sys; v, lo, hi = map(float, sys.argv[1:]); sys.exit(0 if lo <= v <= hi else 1)' "$@"
}

echo "== pods"
pods_init "$state" nr-e2edns0 10.244.83.0/24 "$node"
pod_add c e2e-app client
pod_add d kube-system dnsmasq
pod_add s e2e-app silent
pod_add w e2e-web web
pods_write_podlist "$state/pods.json" e2e-node
C=$(pod_name c) D=$(pod_name d) S=$(pod_name s) W=$(pod_name w)
DIP=$(pod_ip d) SIP=$(pod_ip s) WIP=$(pod_ip w)
echo "   client $C, dns $D $DIP, silent $S $SIP, web $W $WIP"

# dnsmasq with a zone of its own and no upstream: names under test/ that it
# does not know are NXDOMAIN (--local).
# netem where the kernel has it (CONFIG_NET_SCH_NETEM); else the DNS delay
# comes from a relay in the DNS pod and the web server has none.
netem=1
if ! in_node tc qdisc add dev "$(pod_veth d)" root netem delay 10ms 2>"$state/netem.err"; then
  netem=0
  echo "   no netem in this kernel ($(cat "$state/netem.err")): a 10 ms relay in the DNS pod; times checked against tshark"
fi
dns_port=53
[ "$netem" = 1 ] || dns_port=5300
pod_exec d dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$DIP" --port=$dns_port \
  --local=/test/ --address=/exists.test/10.1.2.3 --host-record=web.test,10.1.2.4 \
  >"$state/dnsmasq.log" 2>&1 &
if [ "$netem" = 0 ]; then
  # Holds each query 10 ms, then asks dnsmasq and relays its answer from port 53.
  pod_exec d /usr/bin/python3 -c '
import socket, sys, time
ip = sys.argv[1]
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind((ip, 53))
back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
back.settimeout(2)
while True:
    q, client = front.recvfrom(4096)
    t = time.monotonic() + 0.010
    while time.monotonic() < t:
        pass  # a busy wait: a sleep would wake late on a loaded machine
    back.sendto(q, (ip, 5300))
    try:
        front.sendto(back.recv(4096), client)
    except socket.timeout:
        pass' "$DIP" &
fi
# A DNS server that never answers: a UDP socket on 53 that reads and drops.
pod_exec s /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    s.recv(4096)' &
pod_exec w /usr/bin/python3 -m http.server 8080 --bind "$WIP" >/dev/null 2>&1 &
wait_for 30 "dnsmasq answers" pod_exec c dig +short +tries=1 +time=2 @"$DIP" web.test
wait_for 30 "web server listening" pod_exec c curl -sf -o /dev/null "http://$WIP:8080/"
[ "$netem" = 0 ] || in_node tc qdisc add dev "$(pod_veth w)" root netem delay 20ms

# tshark's own timestamps, where netring's sampler sees each packet: queries
# and SYNs entering from the client's veth, responses and SYN-ACKs entering
# from the servers' veths (dumpcap applies each -f to the -i before it).
# (ip netns exec execs dumpcap: $! is dumpcap itself, which stops on SIGTERM.)
ip netns exec "$node" dumpcap -q \
  -i "$(pod_veth c)" -f "udp dst port 53 or (tcp dst port 8080 and tcp[tcpflags] & tcp-syn != 0)" \
  -i "$(pod_veth d)" -f "udp src port 53" \
  -i "$(pod_veth w)" -f "tcp src port 8080 and tcp[tcpflags] & tcp-syn != 0" \
  -w "$state/client.pcapng" 2>"$state/dumpcap.err" &
dumpcap_pid=$!
wait_for 30 "dumpcap capturing" grep -q "Capturing on" "$state/dumpcap.err"

echo "== 1. DNS"
start_agent
sleep 2  # a publication with the pods named
declare -A truth=([NOERROR]=0 [NXDOMAIN]=0 [timeout]=0)
ask() {  # SERVER NAME
  local out
  out=$(pod_exec c dig +tries=1 +time=1 @"$1" "$2" A 2>&1 || true)
  if grep -q 'status: NOERROR' <<<"$out"; then truth[NOERROR]=$((truth[NOERROR] + 1));
  elif grep -q 'status: NXDOMAIN' <<<"$out"; then truth[NXDOMAIN]=$((truth[NXDOMAIN] + 1));
  elif grep -q 'timed out' <<<"$out"; then truth[timeout]=$((truth[timeout] + 1));
  else fail "dig $2 @$1: unexpected output: $out"; fi
}
for i in $(seq 1 20); do ask "$DIP" exists.test; done
for i in $(seq 1 5); do ask "$DIP" web.test; done
for i in $(seq 1 10); do ask "$DIP" "missing-$i.test"; done
for i in $(seq 1 4); do ask "$SIP" "exists.test"; done
echo "   dig says: NOERROR ${truth[NOERROR]}, NXDOMAIN ${truth[NXDOMAIN]}, timed out ${truth[timeout]}"
[ "${truth[NOERROR]}" = 25 ] && [ "${truth[NXDOMAIN]}" = 10 ] && [ "${truth[timeout]}" = 4 ] ||
  fail "the servers did not behave as set up"
answered=$((truth[NOERROR] + truth[NXDOMAIN]))
wait_for 30 "all $answered exchanges with dnsmasq in /api/v1/dns" bash -c \
  "[ \"\$(ip netns exec $node curl -sf 'http://127.0.0.1:9991/api/v1/dns?outcome=answered&limit=1000' | jq .matched)\" = $answered ]"
wait_for 30 "the silent server's ${truth[timeout]} timeouts in /api/v1/dns" bash -c \
  "[ \"\$(ip netns exec $node curl -sf 'http://127.0.0.1:9991/api/v1/dns?outcome=timeout&limit=1000' | jq .matched)\" = ${truth[timeout]} ]"

got=$(metric netring_dns_queries_total "$C" "$D")
[ "$got" = "$answered" ] || fail "netring_dns_queries_total $C -> $D = $got, dig sent $answered"
got=$(metric netring_dns_queries_total "$C" "$S")
[ "$got" = "${truth[timeout]}" ] || fail "netring_dns_queries_total $C -> $S = $got, dig sent ${truth[timeout]}"
for rc in NOERROR NXDOMAIN; do
  got=$(metric netring_dns_responses_total "$C" "$D" "rcode=\"$rc\"")
  [ "$got" = "${truth[$rc]}" ] || fail "netring_dns_responses_total{rcode=$rc} = $got, dig saw ${truth[$rc]}"
done
got=$(metric netring_dns_timeouts_total "$C" "$S")
[ "$got" = "${truth[timeout]}" ] || fail "netring_dns_timeouts_total = $got, dig timed out ${truth[timeout]}"
got=$(metric netring_dns_timeouts_total "$C" "$D")
[ "$got" = 0 ] || fail "timeouts counted against dnsmasq: $got"
echo "ok: queries, responses by rcode and timeouts equal dig's (${truth[NOERROR]} NOERROR, ${truth[NXDOMAIN]} NXDOMAIN, ${truth[timeout]} timeouts)"

api "/api/v1/dns?outcome=answered&limit=1000" >"$state/dns.json"
jq -e --arg c "$C" --arg d "$D" '[.dns[] | select(.client.pod == $c and .server.pod == $d)] | length == '"$answered" \
  "$state/dns.json" >/dev/null || fail "records do not name client and server pods: $(jq -c '.dns[0]' "$state/dns.json")"
jq -e '[.dns[] | select(.qname == "exists.test" and .qtype_name == "A" and .rcode == "NOERROR")] | length == 20' \
  "$state/dns.json" >/dev/null || fail "exists.test records: $(jq -c '[.dns[] | .qname] | group_by(.) | map({(.[0]): length}) | add' "$state/dns.json")"
# The same exchanges on the flows: each client -> dnsmasq flow (a dig is
# one source port) and its response flow carry their tally.
api "/api/v1/flows?limit=10000&protocol=udp" >"$state/flows.json"
got=$(jq --arg c "$C" --arg d "$D" '[.flows[] | select(.src.pod == $c and .dst.pod == $d and .dns != null) |
  .dns.answered] | add' "$state/flows.json")
back=$(jq --arg c "$C" --arg d "$D" '[.flows[] | select(.src.pod == $d and .dst.pod == $c and .dns != null) |
  .dns.answered] | add' "$state/flows.json")
nx=$(jq --arg c "$C" --arg d "$D" '[.flows[] | select(.src.pod == $c and .dst.pod == $d and .dns != null) |
  .dns.rcodes.NXDOMAIN // 0] | add' "$state/flows.json")
to=$(jq --arg c "$C" --arg s "$S" '[.flows[] | select(.src.pod == $c and .dst.pod == $s and .dns != null) |
  .dns.timeouts] | add' "$state/flows.json")
[ "$got" = "$answered" ] && [ "$back" = "$answered" ] && [ "$nx" = "${truth[NXDOMAIN]}" ] &&
  [ "$to" = "${truth[timeout]}" ] &&
  echo "ok: flows carry their DNS tallies: $got answered (both directions), $nx NXDOMAIN, $to timeouts" ||
  fail "flows' dns: answered $got / $back (want $answered), NXDOMAIN $nx (${truth[NXDOMAIN]}), timeouts $to (${truth[timeout]})"
read -r lo hi < <(jq -r '[.dns[].latency_ms] | "\(min) \(max)"' "$state/dns.json")
echo "   netring's DNS latencies: $lo .. $hi ms"
within "$lo" 10 1000 || fail "a DNS latency below the 10 ms delay: $lo ms"
if [ "$netem" = 1 ]; then
  within "$lo" 10 11 && within "$hi" 10 11 || fail "DNS latencies $lo .. $hi ms, want within 1 ms of 10 ms"
  echo "ok: every latency in /api/v1/dns within 1 ms of the 10 ms delay ($lo .. $hi ms)"
  for q in 0.5 0.9; do
    v=$(quantile $q netring_dns_latency_seconds "$C" "$D")
    within "$v" 0.010 0.011 || fail "netring_dns_latency_seconds q$q = $v s, want 10..11 ms"
    echo "ok: histogram quantile $q = $v s"
  done
fi
api "/api/v1/dns?rcode=nxdomain" | jq -e '.matched == 10' >/dev/null || fail "rcode filter"
api "/api/v1/dns?to_pod=$S" | jq -e '.matched == 4 and (.dns | all(.outcome == "timeout"))' >/dev/null ||
  fail "to_pod filter: $(api "/api/v1/dns?to_pod=$S" | head -c 300)"
code=$(in_node curl -s -o "$state/err.json" -w '%{http_code}' "http://127.0.0.1:9991/api/v1/dns?rcode=bogus")
[ "$code" = 400 ] && jq -e '.parameter == "rcode"' "$state/err.json" >/dev/null || fail "bad rcode: HTTP $code"
echo "ok: /api/v1/dns filters, 400 for a bad rcode"

echo "== 2. TCP handshakes"
for i in $(seq 1 10); do pod_exec c curl -sf -o /dev/null "http://$WIP:8080/" || fail "curl $i"; done
for i in $(seq 1 3); do pod_exec c curl -s -o /dev/null "http://$WIP:9/" && fail "port 9 answered"; done
wait_for 30 "10 connections established to $W" bash -c \
  "[ \"\$(ip netns exec $node curl -sf http://127.0.0.1:9990/metrics | grep '^netring_tcp_connections_established_total{' | grep 'dst_pod=\"$W\"' | awk '{s+=\$2} END {print s+0}')\" = 10 ]"
# The resets may come a publication after the last establishment: wait for them.
resets_counted() { [ "$(metric netring_tcp_resets_total "$C" "$W" 'side="server"')" = 3 ]; }
wait_for 30 "3 connections to a closed port reset by the server" resets_counted
got=$(metric netring_tcp_connection_attempts_total "$C" "$W")
[ "$got" = 13 ] || fail "netring_tcp_connection_attempts_total = $got, want 13 (10 curls + 3 to a closed port)"
api "/api/v1/flows?to_pod=$W&protocol=tcp&port=8080&limit=1000" >"$state/flows.json"
n=$(jq '[.flows[] | select(.handshake.established == true)] | length' "$state/flows.json")
[ "$n" = 10 ] || fail "flows with an established handshake: $n, want 10"
read -r lo hi < <(jq -r '[.flows[] | select(.handshake.established) | .handshake.syn_to_synack_ms] | "\(min) \(max)"' "$state/flows.json")
if [ "$netem" = 1 ]; then
  within "$lo" 20 21 && within "$hi" 20 21 || fail "SYN -> SYN-ACK $lo .. $hi ms, want within 1 ms of 20 ms"
  for q in 0.5 0.9; do
    v=$(quantile $q netring_tcp_handshake_seconds "$C" "$W" 'phase="syn_synack"')
    within "$v" 0.020 0.021 || fail "netring_tcp_handshake_seconds{phase=syn_synack} q$q = $v s, want 20..21 ms"
    echo "ok: handshake histogram quantile $q = $v s"
  done
fi

# The times against tshark's, query by query and connection by connection.
kill -TERM "$dumpcap_pid"
wait "$dumpcap_pid" || true
# Blocks of several interfaces are not in time order in the file: sort them,
# or tshark meets a response before its query.
reordercap "$state/client.pcapng" "$state/sorted.pcapng" >/dev/null
tshark -r "$state/sorted.pcapng" -Y "dns.flags.response == 1 and dns.time" -T fields -e udp.dstport \
  -e dns.time >"$state/tshark-dns.tsv"
tshark -r "$state/sorted.pcapng" -Y "tcp.flags.syn == 1" -T fields -e tcp.srcport -e tcp.dstport -e tcp.flags.ack \
  -e frame.time_epoch >"$state/tshark-syn.tsv"
api "/api/v1/dns?outcome=answered&limit=1000" >"$state/dns-all.json"
/usr/bin/python3 "$src/e2e/lib/control_times.py" "$state/tshark-dns.tsv" "$state/dns-all.json" \
  "$state/tshark-syn.tsv" "$state/flows.json" || fail "times differ from tshark's"
echo "ok: every DNS latency and SYN -> SYN-ACK time within 1 ms of tshark's on the same veths"
echo "ok: 13 attempts, 10 established, 3 reset by the server, SYN -> SYN-ACK $lo .. $hi ms"
stop_agent

echo "== 3. --dns=off --tcp-handshake=off"
start_agent --dns=off --tcp-handshake=off
sleep 2
for i in $(seq 1 5); do ask "$DIP" exists.test; done
for i in $(seq 1 5); do pod_exec c curl -sf -o /dev/null "http://$WIP:8080/" || fail "curl"; done
sleep 3
[ "$(metrics | awk '/^netring_dns_queries_total[{]/' | wc -l)" = 0 ] || fail "DNS counted with --dns=off"
[ "$(metrics | awk '/^netring_tcp_connection_attempts_total[{]/' | wc -l)" = 0 ] ||
  fail "TCP counted with --tcp-handshake=off"
code=$(in_node curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:9991/api/v1/dns")
[ "$code" = 404 ] || fail "/api/v1/dns with --dns=off: HTTP $code"
api /api/v1/status | jq -e '.forced_copies == 0' >/dev/null || fail "forced copies with both off"
echo "ok: with both off nothing is copied or counted"
stop_agent
echo "PASS"
