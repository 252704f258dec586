#!/usr/bin/env bash
# e2e: the netring command line against real agents. Two nodes (network
# namespaces), each with pods made by the real CNI bridge + host-local
# plugins, its own netring-agent (every packet sampled), and its API
# forwarded to the host's loopback by socat as kubectl port-forward would.
#   1. observe -o json is the API's flows; each filter option gives what the
#      API's parameter gives, and narrows; two agents merge
#   2. the table: the same flows, fitted to COLUMNS, colour only on a terminal;
#      -o jsonpath
#   3. --follow sees a new flow; SIGINT ends it with status 0 and whole lines
#   4. bad input: the API's 4xx message with the option's name (exit 2);
#      nothing listening (how to port-forward, exit 1); a port that is not
#      the API; one agent of two down
#   5. top: totals equal the API's, summed over agents; rates over a
#      window; refreshing on a terminal
#   4b. dns and drops: -o json is the API's records, filters, the tables,
#      dns --follow, the API's 4xx messages
#   6. status in words matches the API; capture writes a pcap of both agents
#      that tshark reads, and says what it holds
LIB="$(cd "$(dirname "$0")/lib" && pwd)"
source "$LIB/common.sh"
source "$LIB/nodes.sh"

need_root
need_tool jq curl socat tshark script iperf3 ping timeout dnsmasq dig
CLI="$E2E_BUILD/netring"
[ -x "$CLI" ] || die "no $CLI (build the netring target)"
[ -x "$E2E_BUILD/netring-agent" ] || die "no agent at $E2E_BUILD/netring-agent"

# --- two nodes, five pods -------------------------------------------------
node_add a 10.244.91.0/24
node_pod web shop frontend
node_pod cart shop cart
node_pod cache data redis
node_add b 10.244.92.0/24
node_pod cart2 shop cart
node_pod cache2 data redis
# Flows stay in the tables for the whole scenario: CLI and API are compared
# at different moments.
node_agent_start a --enable-capture-api --flow-idle-timeout=10m
node_agent_start b --enable-capture-api --flow-idle-timeout=10m
A=${NODE_API[a]} B=${NODE_API[b]}
node_use a
WEB=$(pod_name web) CART=$(pod_name cart) CACHE=$(pod_name cache) CACHE_IP=$(pod_ip cache)

api() { curl -sf --max-time 10 "http://$1$2"; } # HOST:PORT PATH
n() { "$CLI" "$@"; }

log "traffic on both nodes"
node_use a
pod_exec cart iperf3 -s -D -p 5201 --pidfile "$E2E_TMP/iperf-a.pid"
pod_exec cache iperf3 -s -D -p 6379 --pidfile "$E2E_TMP/iperf-a2.pid"
node_use b
pod_exec cache2 iperf3 -s -D -p 6379 --pidfile "$E2E_TMP/iperf-b.pid"
on_exit "kill \$(cat $E2E_TMP/iperf-a.pid $E2E_TMP/iperf-a2.pid $E2E_TMP/iperf-b.pid)"
sleep 0.5
node_use a
pod_exec web iperf3 -c "$(pod_ip cart)" -p 5201 -t 1 -b 20M >/dev/null || fail "iperf3 web -> cart"
pod_exec cart iperf3 -c "$CACHE_IP" -p 6379 -t 1 -b 5M >/dev/null || fail "iperf3 cart -> cache"
pod_exec web ping -q -c 5 -i 0.1 "$CACHE_IP" >/dev/null || fail "ping web -> cache"
node_use b
pod_exec cart2 iperf3 -c "$(pod_ip cache2)" -p 6379 -t 1 -b 5M >/dev/null || fail "iperf3 cart2 -> cache2"

flows_json() { api "$1" "/api/v1/flows?limit=1000${2:-}" | jq -c '.flows[]' | jq -sc 'sort_by(.id)'; }
stable() { # the flows of agent $1 did not change over 2 s
  local x y
  x=$(flows_json "$1") && sleep 2 && y=$(flows_json "$1") || return 1
  diff <(jq -c '.[]' <<<"$x") <(jq -c '.[]' <<<"$y") >"$E2E_TMP/unsettled.diff" && [ "$(jq length <<<"$x")" -gt 0 ]
}
wait_for 60 "flows on a settled" stable "$A" || die "flows on a kept changing"
wait_for 60 "flows on b settled" stable "$B" || die "flows on b kept changing"

# --- 1. observe -o json vs the API ----------------------------------------
all_a=$(flows_json "$A")
total_a=$(jq length <<<"$all_a")
log "agent a holds $total_a flows, b $(flows_json "$B" | jq length)"
got=$(n observe --server "$A" --last 1000 -o json | jq -sc 'sort_by(.id)')
[ "$got" = "$all_a" ] && pass "observe -o json = the API's flows ($total_a)" || fail "observe -o json differs from the API"

# Default: the newest 20, oldest first.
got=$(n observe --server "$A" -o json | jq -sc '[.[].id]')
want=$(api "$A" "/api/v1/flows?limit=20" | jq -c '[.flows | reverse | .[].id]')
[ "$got" = "$want" ] && pass "observe: the newest 20, oldest first" || fail "observe default: $got, want $want"
got=$(n observe --server "$A" --last 3 -o json | wc -l)
[ "$got" = 3 ] || fail "--last 3 printed $got flows"

# Each filter: the CLI's answer is the API's, and it selects a strict, non-empty subset.
check_filter() { # FLAG VALUE PARAM
  local flag=$1 value=$2 param=$3 got want
  got=$(n observe --server "$A" --last 1000 "$flag" "$value" -o json | jq -sc 'sort_by(.id)')
  want=$(flows_json "$A" "&$param=$(jq -rn --arg v "$value" '$v|@uri')")
  if [ "$got" != "$want" ]; then
    fail "$flag $value: CLI and API differ"
  elif [ "$(jq length <<<"$got")" -eq 0 ] || [ "$(jq length <<<"$got")" -ge "$total_a" ]; then
    fail "$flag $value selects $(jq length <<<"$got") of $total_a flows (want some, not all)"
  else
    pass "$flag $value: $(jq length <<<"$got") of $total_a flows, as the API's $param"
  fi
}
check_filter --from-pod "shop/$WEB" from_pod
check_filter --to-pod "$CACHE" to_pod
check_filter --namespace data namespace
check_filter --workload shop/frontend workload
check_filter --protocol icmp protocol
check_filter --port 5201 port
check_filter --ip "$CACHE_IP" ip
# --since: a moment after the traffic ended nothing is that recent.
sleep 3
got=$(n observe --server "$A" --since 2s -o json | wc -l)
all=$(n observe --server "$A" --since 10m --last 1000 -o json | wc -l)
[ "$got" = 0 ] && [ "$all" = "$total_a" ] && pass "--since: 2s selects none, 10m all $all" ||
  fail "--since 2s gave $got, 10m gave $all of $total_a"

# Two agents: every flow of both, in one list.
both=$( (flows_json "$A" | jq -c '.[]'; flows_json "$B" | jq -c '.[]') | sort)
got=$(n observe --server "$A" --server "$B" --last 1000 -o json | jq -c . | sort)
[ "$got" = "$both" ] && pass "two agents: observe merges both ($(wc -l <<<"$got") flows)" || fail "two agents: merge differs"
printf '# both nodes\n%s\n\n%s  # b\n' "$A" "$B" >"$E2E_TMP/agents.txt"
got=$(n observe --server-file "$E2E_TMP/agents.txt" --last 1000 -o json | jq -c . | sort)
[ "$got" = "$both" ] && pass "--server-file: the same" || fail "--server-file differs from --server twice"

# --- 2. the table -----------------------------------------------------------
# Rows are the JSON's flows in the same order; columns from the API's fields.
COLUMNS=250 n observe --server "$A" --last 1000 >"$E2E_TMP/table.txt" || fail "observe (table) failed"
want=$(n observe --server "$A" --last 1000 -o json | jq -r '
  def ep(e; p): (if e.pod != "" then e.namespace + "/" + e.pod else e.ip end)
                + (if (p == "tcp" or p == "udp") and e.port != 0 then ":" + (e.port|tostring) else "" end);
  ep(.src; .protocol) + " " + ep(.dst; .protocol) + " " + .protocol + " " + .direction')
got=$(tail -n +2 "$E2E_TMP/table.txt" | awk '{print $2, $3, $4, $5}')
head -1 "$E2E_TMP/table.txt" | grep -q '^TIME  *SOURCE  *DESTINATION  *PROTO  *DIR  *PACKETS  *BYTES  *FLAGS$' ||
  fail "table header: $(head -1 "$E2E_TMP/table.txt")"
[ "$got" = "$want" ] && pass "table rows = the flows ($(wc -l <<<"$got") rows)" || fail "table rows differ from the flows"
# Packets in the table are the API's, rounded; "~" marks an estimate (the
# flow's "exact" false; before "exact", a non-zero bytes_stderr).
got=$(tail -n +2 "$E2E_TMP/table.txt" | awk '{print $6}' | paste -sd' ')
want=$(n observe --server "$A" --last 1000 -o json |
  jq -r '(if (if has("exact") then .exact else .bytes_stderr == 0 end) then "" else "~" end) + (.packets | round | tostring)' |
  paste -sd' ')
[ "$got" = "$want" ] && pass "table packets = the API's, estimates marked ~" || fail "table packets $got, API $want"

# (C locale: "~" marks a cut, one byte, so awk's length counts columns.)
LC_ALL=C COLUMNS=80 n observe --server "$A" --last 1000 >"$E2E_TMP/table80.txt"
long=$(awk 'length > 80' "$E2E_TMP/table80.txt" | wc -l)
awk '{print $2, $3}' "$E2E_TMP/table80.txt" | grep -q '~' || fail "COLUMNS=80 cut no name (names are longer than that)"
[ "$long" = 0 ] && pass "COLUMNS=80: every line fits" || fail "$long lines wider than 80 columns"
! grep -q $'\e' "$E2E_TMP/table.txt" && pass "no colour into a pipe" || fail "colour codes in piped output"
n observe --server "$A" --color=always | grep -q $'\e\[' || fail "--color=always gave no colour"
# On a terminal (script(1) gives the command a pty): colour, unless NO_COLOR or --color=never.
script -qec "$CLI observe --server $A --last 3" /dev/null >"$E2E_TMP/tty.txt"
grep -q $'\e\[' "$E2E_TMP/tty.txt" && pass "colour on a terminal" || fail "no colour on a terminal"
script -qec "env NO_COLOR=1 $CLI observe --server $A --last 3" /dev/null | grep -q $'\e\[' && fail "NO_COLOR ignored"
script -qec "$CLI observe --server $A --last 3 --color=never" /dev/null | grep -q $'\e\[' && fail "--color=never ignored"

got=$(n observe --server "$A" --last 1000 -o jsonpath='{.src.pod}>{.dst.pod} {.protocol}')
want=$(n observe --server "$A" --last 1000 -o json | jq -r '"\(.src.pod)>\(.dst.pod) \(.protocol)"')
[ "$got" = "$want" ] && pass "-o jsonpath, a line per flow" || fail "-o jsonpath differs from jq on -o json"

# --- 3. follow --------------------------------------------------------------
node_use a
# The binary itself in the background (a backgrounded shell function would be
# a subshell, which ignores SIGINT as every asynchronous command of a script).
"$CLI" observe --server "$A" --follow -o json >"$E2E_TMP/follow.jsonl" 2>"$E2E_TMP/follow.err" &
fpid=$!
new_udp() { pod_exec web bash -c "echo hello >/dev/udp/$CACHE_IP/7777"; }
follow_saw() { new_udp; grep -q '"port":7777' "$E2E_TMP/follow.jsonl"; }
wait_for 30 "follow shows a new UDP flow to :7777" follow_saw && pass "--follow sees a new flow" ||
  fail "--follow never showed the new flow: $(head -c 300 "$E2E_TMP/follow.jsonl")"
jq -se --arg w "$WEB" '[.[] | select(.dst.port == 7777)] | length > 0 and all(.src.pod == $w and .protocol == "udp")' \
  "$E2E_TMP/follow.jsonl" >/dev/null || fail "the new flow is not web -> cache udp"
# Only what changed since the start: no old flow came first.
grep -q '"port":5201' "$E2E_TMP/follow.jsonl" && fail "--follow without --last printed an old flow"
kill -INT "$fpid"
rc=0
wait "$fpid" || rc=$?
[ "$rc" = 0 ] && pass "SIGINT ends --follow with status 0" || fail "SIGINT: status $rc ($(cat "$E2E_TMP/follow.err"))"
[ "$(tail -c1 "$E2E_TMP/follow.jsonl" | od -An -c | tr -d ' ')" = '\n' ] || fail "follow output ends mid-line"
jq -e . "$E2E_TMP/follow.jsonl" >/dev/null || fail "a follow line is not JSON"

# SIGINT while lines pour in (a ping every 20 ms keeps a flow growing), table output.
ip netns exec "$(pod_netns web)" ping -q -i 0.02 -c 400 "$CACHE_IP" >/dev/null &
ppid=$!
"$CLI" observe --server "$A" --follow --last 5 >"$E2E_TMP/follow.txt" 2>"$E2E_TMP/follow2.err" &
fpid=$!
rows() { [ "$(wc -l <"$E2E_TMP/follow.txt")" -ge 8 ]; }
wait_for 30 "follow table rows" rows || fail "follow table: $(wc -l <"$E2E_TMP/follow.txt") lines"
kill -INT "$fpid"
rc=0
wait "$fpid" || rc=$?
kill "$ppid" 2>/dev/null
wait "$ppid" 2>/dev/null || true
[ "$rc" = 0 ] || fail "SIGINT (table): status $rc"
[ "$(tail -c1 "$E2E_TMP/follow.txt" | od -An -c | tr -d ' ')" = '\n' ] || fail "table follow ends mid-line"
[ ! -s "$E2E_TMP/follow2.err" ] || fail "stderr after SIGINT: $(cat "$E2E_TMP/follow2.err")"
head -1 "$E2E_TMP/follow.txt" | grep -q '^TIME' || fail "follow table has no header"
pass "SIGINT on a busy follow (table): status 0, $(wc -l <"$E2E_TMP/follow.txt") whole lines"

# --- 4. bad input -----------------------------------------------------------
expect_exit() { # STATUS PATTERN CMD...: the status, and PATTERN (fixed string) in stderr
  local want=$1 pattern=$2 rc=0
  shift 2
  "$@" >"$E2E_TMP/out.txt" 2>"$E2E_TMP/err.txt" || rc=$?
  if [ "$rc" != "$want" ]; then
    fail "$*: status $rc, want $want ($(head -3 "$E2E_TMP/err.txt"))"
  elif ! grep -qF -- "$pattern" "$E2E_TMP/err.txt"; then
    fail "$*: stderr lacks '$pattern': $(cat "$E2E_TMP/err.txt")"
  else
    pass "$(printf '%q ' "${@:2}")-> $rc: $(head -1 "$E2E_TMP/err.txt" | cut -c1-100)"
  fi
}
api_error() { curl -s "http://$A$1" | jq -r .error; }
expect_exit 2 "netring: --protocol: $(api_error '/api/v1/flows?protocol=tcpp')" n observe --server "$A" --protocol tcpp
expect_exit 2 "netring: --port: $(api_error '/api/v1/flows?port=70000')" n observe --server "$A" --port 70000
expect_exit 2 "netring: --from-pod: $(api_error '/api/v1/flows?from_pod=a/b/c')" n observe --server "$A" --from-pod a/b/c
expect_exit 2 "netring: --since: $(api_error '/api/v1/flows?since=yesterday')" n observe --server "$A" --since yesterday
expect_exit 2 "netring: --last: $(api_error '/api/v1/flows?limit=20000')" n observe --server "$A" --last 20000
expect_exit 2 "netring: --window:" n top --server "$A" --window 10m --once
expect_exit 2 "unknown option --bogus" n observe --bogus
expect_exit 2 "--last '0'" n observe --last 0
expect_exit 2 "-o 'yaml'" n observe -o yaml
expect_exit 2 "'nope' is not a command" n nope
dead="127.0.0.1:$(free_port)"
expect_exit 1 "cannot reach the netring API at $dead" n observe --server "$dead"
expect_exit 1 "kubectl -n netring port-forward ds/netring 9991" n status --server "$dead"
# By default: 127.0.0.1:9991 (here a fresh namespace where nothing listens).
ip netns add "nre2e-$$-empty"
on_exit "ip netns del nre2e-$$-empty"
ip -n "nre2e-$$-empty" link set lo up
expect_exit 1 "cannot reach the netring API at 127.0.0.1:9991" ip netns exec "nre2e-$$-empty" "$CLI" status
# The metrics port forwarded by mistake: an HTTP server, not the API.
expect_exit 1 "not as a netring agent's API" node_exec_in a "$CLI" status --server 127.0.0.1:9990
# One agent of two down: the other's flows, the failure named, status 1.
rc=0
n observe --server "$A" --server "$dead" --last 1000 -o json >"$E2E_TMP/out.txt" 2>"$E2E_TMP/err.txt" || rc=$?
got=$(wc -l <"$E2E_TMP/out.txt")
now_a=$(flows_json "$A" | jq length)
[ "$rc" = 1 ] && [ "$got" = "$now_a" ] && grep -q "$dead" "$E2E_TMP/err.txt" &&
  pass "one agent down: the other's $got flows, status 1, the dead one named" ||
  fail "one agent down: status $rc, $got flows, stderr $(cat "$E2E_TMP/err.txt")"

# --- 4b. dns and drops -------------------------------------------------------
# dnsmasq (a zone of its own, no upstream) in the cache pod; web asks three
# names it knows and one it does not. UDP to a closed port of cache: drops
# the kernel gives reason NO_SOCKET.
node_use a
pod_exec cache dnsmasq --no-resolv --no-hosts --bind-interfaces --listen-address="$CACHE_IP" \
  --local=/test/ --address=/exists.test/10.1.2.3 --pid-file="$E2E_TMP/dnsmasq.pid" ||
  die "dnsmasq did not start"
on_exit "kill \$(cat $E2E_TMP/dnsmasq.pid)"
wait_for 30 "dnsmasq answers" pod_exec web dig +short +tries=1 +time=1 @"$CACHE_IP" exists.test
for _ in 1 2; do pod_exec web dig +tries=1 +time=1 @"$CACHE_IP" exists.test >/dev/null; done
pod_exec web dig +tries=1 +time=1 @"$CACHE_IP" missing.test >/dev/null
pod_exec web /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5): s.sendto(b'x' * 64, ('$CACHE_IP', 9))"
dns_settled() { [ "$(api "$A" '/api/v1/dns?outcome=answered&limit=1000' | jq '.count')" -ge 4 ]; }
wait_for 30 "four answered exchanges in /api/v1/dns" dns_settled || fail "DNS exchanges missing: $(api "$A" /api/v1/dns)"
got=$(n dns --server "$A" --last 1000 -o json | jq -sc 'sort_by(.seq)')
want=$(api "$A" '/api/v1/dns?limit=1000' | jq -c '.dns | sort_by(.seq)')
[ "$got" = "$want" ] && pass "dns -o json = the API's exchanges ($(jq length <<<"$got"))" || fail "dns -o json: $got, want $want"
got=$(n dns --server "$A" --rcode NXDOMAIN -o jsonpath='{.qname} {.rcode} {.client.pod}')
[ "$got" = "missing.test NXDOMAIN $WEB" ] && pass "dns --rcode NXDOMAIN: $got" || fail "dns --rcode NXDOMAIN: '$got'"
got=$(n dns --server "$A" --qname EXISTS.test -o json | wc -l)
want=$(api "$A" '/api/v1/dns?qname=exists.test' | jq .count)
[ "$got" = "$want" ] && [ "$got" -ge 3 ] && pass "dns --qname (case-insensitive): $got exchanges" ||
  fail "dns --qname: $got, the API $want"
COLUMNS=200 n dns --server "$A" >"$E2E_TMP/dns.txt" || fail "dns (table) failed"
grep -q '^TIME .*CLIENT .*SERVER .*QUERY .*ANSWER .*LATENCY' "$E2E_TMP/dns.txt" &&
  grep -E "missing\.test +A +NXDOMAIN +[0-9.]+ ms" "$E2E_TMP/dns.txt" | grep -q "shop/$WEB" &&
  pass "dns table: client, query, answer and latency" || fail "dns table: $(cat "$E2E_TMP/dns.txt")"
"$CLI" dns --server "$A" --follow -o json >"$E2E_TMP/dns-follow.jsonl" 2>&1 &
fpid=$!
sleep 1
pod_exec web dig +tries=1 +time=1 @"$CACHE_IP" later.test >/dev/null
wait_for 20 "the new exchange in dns --follow" grep -q '"qname":"later.test"' "$E2E_TMP/dns-follow.jsonl" &&
  pass "dns --follow: the new exchange" || fail "dns --follow: $(cat "$E2E_TMP/dns-follow.jsonl")"
kill -INT "$fpid"
wait "$fpid" || fail "dns --follow: status $? after SIGINT"
expect_exit 2 "netring: --rcode: $(api_error '/api/v1/dns?rcode=bogus')" n dns --server "$A" --rcode bogus
expect_exit 2 "netring: --outcome: $(api_error '/api/v1/dns?outcome=lost')" n dns --server "$A" --outcome lost

no_socket() { [ "$(api "$A" "/api/v1/drops?reason=NO_SOCKET&to_pod=data/$CACHE" | jq '.count')" -ge 5 ]; }
wait_for 30 "five NO_SOCKET drops in /api/v1/drops" no_socket || fail "drops: $(api "$A" /api/v1/drops)"
# Drop times come from a per-jiffy clock, so drops of one burst share a time:
# compare whole records in a total order (the CLI prints oldest first, the API
# newest first). The tracer sees every drop of the kernel, and other network
# namespaces on this machine (another scenario's pods) drop packets too: the
# drops compared and shown are those to this scenario's cache pod, and a
# mismatch is retried before it counts (a drop between the two reads).
drops_json_match() {
  got=$(n drops --server "$A" --to-pod "data/$CACHE" --last 1000 -o json | jq -sc 'sort')
  want=$(api "$A" "/api/v1/drops?to_pod=data/$CACHE&limit=1000" | jq -c '.drops | sort')
  [ "$got" = "$want" ]
}
tries=0
until drops_json_match || [ $((tries += 1)) -ge 5 ]; do sleep 1; done
[ "$got" = "$want" ] && [ "$(jq length <<<"$got")" -ge 5 ] && pass "drops -o json = the API's drops ($(jq length <<<"$got"))" ||
  fail "drops -o json differs: $(diff <(jq -c '.[]' <<<"$got") <(jq -c '.[]' <<<"$want") | head -20)"
got=$(n drops --server "$A" --reason NO_SOCKET --to-pod "data/$CACHE" --port 9 -o jsonpath='{.reason} {.src.pod} {.dst.port}' | sort -u)
[ "$got" = "NO_SOCKET $WEB 9" ] && pass "drops --reason --to-pod --port: $got" || fail "drops --reason --to-pod --port: '$got'"
COLUMNS=200 n drops --server "$A" --reason NO_SOCKET --to-pod "data/$CACHE" >"$E2E_TMP/drops.txt" || fail "drops (table) failed"
grep -q '^TIME .*SOURCE .*DESTINATION .*REASON .*BYTES' "$E2E_TMP/drops.txt" &&
  grep "NO_SOCKET" "$E2E_TMP/drops.txt" | grep -q "data/$CACHE:9" &&
  pass "drops table: source, destination, reason" || fail "drops table: $(cat "$E2E_TMP/drops.txt")"
expect_exit 2 "netring: --reason: $(api_error '/api/v1/drops?reason=no-such')" n drops --server "$A" --reason no-such
expect_exit 2 "unknown option --follow" n drops --server "$A" --follow

# --- 5. top -----------------------------------------------------------------
got=$(n top pairs --total --once --server "$A" -o json | jq -sc '[.[] | {key, bytes, packets, flows}]')
want=$(api "$A" "/api/v1/top?key=pair&limit=20" | jq -c '[.top[] | {key, bytes, packets, flows}]')
[ "$got" = "$want" ] && pass "top --total = the API's top (pairs)" || fail "top --total: $got, want $want"
for k in workloads:src_workload destinations:dst_workload namespaces:namespace pods:pod; do
  got=$(n top "${k%%:*}" --total --once --server "$A" -o json | jq -sc '[.[].key]')
  want=$(api "$A" "/api/v1/top?key=${k#*:}&limit=20" | jq -c '[.top[].key]')
  [ "$got" = "$want" ] || fail "top ${k%%:*}: $got, want $want"
done
got=$(n top pairs --total --once --server "$A" --by packets -o json | jq -sc '[.[].key]')
want=$(api "$A" "/api/v1/top?key=pair&by=packets&limit=20" | jq -c '[.top[].key]')
[ "$got" = "$want" ] || fail "top --by packets: $got, want $want"
# Summed over agents: shop/cart -> data/redis talks on both nodes.
node_use a
pod_exec cart ping -q -c 3 -i 0.1 "$CACHE_IP" >/dev/null || fail "ping cart -> cache"
node_use b
pod_exec cart2 ping -q -c 3 -i 0.1 "$(pod_ip cache2)" >/dev/null || fail "ping cart2 -> cache2"
wait_for 30 "flows on a settled" stable "$A" && wait_for 30 "flows on b settled" stable "$B" || fail "flows kept changing"
pair='shop/cart -> data/redis'
sum=$( (api "$A" "/api/v1/top?key=pair&limit=1000"; api "$B" "/api/v1/top?key=pair&limit=1000") |
  jq -s --arg p "$pair" '[.[].top[] | select(.key == $p) | .bytes] | add')
got=$(n top --total --once --server "$A" --server "$B" -o json | jq --arg p "$pair" 'select(.key == $p) | .bytes')
[ -n "$got" ] && [ "$(jq -n "$got == $sum")" = true ] && pass "top over two agents sums '$pair': $got bytes" ||
  fail "top over two agents: '$pair' $got, want $sum"
# Rates over a window: fresh traffic shows as bytes/s.
node_use a
pod_exec web iperf3 -c "$(pod_ip cart)" -p 5201 -t 2 -b 8M >/dev/null || fail "iperf3 for rates"
sleep 1.5
rate=$(n top --window 10s --once --server "$A" -o json | jq 'select(.key == "shop/frontend -> shop/cart") | .bytes_per_second')
[ -n "$rate" ] && [ "$(jq -n "$rate > 100000")" = true ] && pass "top --window 10s: frontend -> cart at $rate B/s" ||
  fail "top --window: frontend -> cart rate '$rate'"
COLUMNS=120 n top --window 10s --once --server "$A" | head -1 | grep -q '^SOURCE  *DESTINATION  *BYTES/S  *PACKETS/S' ||
  fail "top table header"
# Refreshing on a terminal until SIGINT (timeout sends it after 4 s).
rc=0
script -qec "timeout -s INT --preserve-status 4 $CLI top --server $A --interval 1s" /dev/null >"$E2E_TMP/top.tty" || rc=$?
frames=$(grep -o $'\e\[2J' "$E2E_TMP/top.tty" | wc -l)
[ "$rc" = 0 ] && [ "$frames" -ge 2 ] && pass "top refreshes on a terminal ($frames frames), SIGINT -> 0" ||
  fail "top on a terminal: status $rc, $frames frames"

# --- 6. status and capture --------------------------------------------------
words=$(n status --server "$A" --server "$B")
backend=$(api "$A" /api/v1/status | jq -r .backend.name)
grep -q "node a .*netring-agent $(api "$A" /api/v1/status | jq -r .version) .*ready" <<<"$words" || fail "status head: $words"
grep -q "capture  .*($backend)" <<<"$words" || fail "status lacks the backend $backend: $words"
for ifc in $(api "$A" /api/v1/interfaces | jq -r '.interfaces[].name'); do
  grep -q "^ *$ifc " <<<"$words" || fail "status lacks interface $ifc"
done
grep -q "IPFIX export  *off" <<<"$words" || fail "status words lack the IPFIX export state"
mode=$(api "$A" /api/v1/status | jq -r .exact_flows.mode)
counted=$(api "$A" /api/v1/status | jq -r .exact_flows.counted_skbs)
[ "$mode" = bulk ] || fail "agent a's --exact-flows mode is '$mode', the default is bulk"
# The kernel's flow maps start at 16384 flows a period (below the default
# --flow-table-size of 65536) and stay there for this handful of flows.
ex=$(api "$A" /api/v1/status | jq -c '[.exact_flows.map_capacity, .exact_flows.map_resizes, .exact_flows.drains > 0]')
[ "$ex" = '[16384,0,true]' ] && pass "the kernel flow map holds 16384 flows a period, never resized" ||
  fail "exact_flows [map_capacity, map_resizes, drained]: $ex, want [16384,0,true]"
grep -q "exact flows  *$mode: " <<<"$words" && grep -q " skbs counted in the kernel, " <<<"$words" &&
  pass "status in words: exact flows $mode ($counted skbs counted)" || fail "status words lack exact flows $mode"
grep -q "3 interfaces: 3 pod via" <<<"$words" && grep -q "2 interfaces: 2 pod via" <<<"$words" &&
  grep -q "received, " <<<"$words" && pass "status in words: both agents, backend $backend, hooks" ||
  fail "status words: $words"
got=$(n status --server "$A" -o json | jq -c '{backend, version, node, fallbacks, kernel_features, capture_api: .capture_api.enabled, ifs: [.interfaces[].name]}')
want=$( (api "$A" /api/v1/status; api "$A" /api/v1/interfaces) | jq -sc '.[0] + {interfaces: .[1].interfaces} |
  {backend, version, node, fallbacks, kernel_features, capture_api: .capture_api.enabled, ifs: [.interfaces[].name]}')
[ "$got" = "$want" ] && pass "status -o json = the API's status" || fail "status -o json: $got, want $want"

node_use a
ip netns exec "$(pod_netns web)" ping -q -c 40 -i 0.1 "$CACHE_IP" >/dev/null &
pa=$!
node_use b
ip netns exec "$(pod_netns cart2)" ping -q -c 40 -i 0.1 "$(pod_ip cache2)" >/dev/null &
pb=$!
n capture --server "$A" --server "$B" -w "$E2E_TMP/cap.pcap" --filter icmp --duration 3s >"$E2E_TMP/cap.txt" ||
  fail "capture failed: $(cat "$E2E_TMP/cap.txt")"
wait "$pa" "$pb"
said=$(sed -n 's/^wrote \([0-9]*\) packets.*/\1/p' "$E2E_TMP/cap.txt")
# One tshark pass: destination, ICMP type (empty for anything not ICMP).
tshark -r "$E2E_TMP/cap.pcap" -T fields -e ip.dst -e icmp.type 2>/dev/null >"$E2E_TMP/cap.fields"
inpcap=$(wc -l <"$E2E_TMP/cap.fields")
from_a=$(awk -v ip="$CACHE_IP" '$1 == ip && $2 == 8' "$E2E_TMP/cap.fields" | wc -l)
node_use b
from_b=$(awk -v ip="$(pod_ip cache2)" '$1 == ip && $2 == 8' "$E2E_TMP/cap.fields" | wc -l)
node_use a
nonicmp=$(awk 'NF < 2' "$E2E_TMP/cap.fields" | wc -l)
[ "$said" = "$inpcap" ] && [ "$from_a" -ge 5 ] && [ "$from_b" -ge 5 ] && [ "$nonicmp" = 0 ] &&
  pass "capture: $inpcap packets ($from_a echo requests on a, $from_b on b), as it says" ||
  fail "capture: said $said, pcap $inpcap, a $from_a, b $from_b, non-icmp $nonicmp: $(cat "$E2E_TMP/cap.txt")"
grep -q "shop/$WEB  *data/$CACHE  *icmp" "$E2E_TMP/cap.txt" && pass "capture summary names the pods" ||
  fail "capture summary: $(cat "$E2E_TMP/cap.txt")"
expect_exit 2 "netring: --filter: bad pcap filter" n capture --server "$A" -w "$E2E_TMP/bad.pcap" --filter 'tcp port'
[ ! -e "$E2E_TMP/bad.pcap" ] || fail "a failed capture left its file"

[ "$E2E_FAILED" = 0 ] && log PASS
