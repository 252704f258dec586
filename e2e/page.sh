#!/usr/bin/env bash
# e2e: the page the agent serves at / of its API port, in real headless
# Chromium (Debian's chromium + chromium-driver through python3-selenium).
# The demo's layout: frontend, cart and redis pods made by the real CNI
# plugins in a node namespace, its agent (every packet sampled), and the
# demo's traffic (frontend -> cart and cart -> redis iperf3, frontend ->
# redis ping). e2e/lib/page_check.py drives the browser: the map shows the
# workloads and the edges the API reports, the status panel the backend and
# hooks and --exact-flows mode, the table filters (and shows the API's 400
# message) and marks estimated counts, follow adds the row of a new flow; no
# console error (CSP included).
# Screenshots stay in <build>/artifacts/page/ (map.png, filtered.png,
# bad-filter.png, follow.png).
LIB="$(cd "$(dirname "$0")/lib" && pwd)"
source "$LIB/common.sh"
source "$LIB/nodes.sh"

need_root
need_tool chromium chromedriver iperf3 ping curl
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import selenium' 2>/dev/null ||
  die "python3-selenium missing (scripts/deps.sh installs it)"
[ -x "$E2E_BUILD/netring-agent" ] || die "no agent at $E2E_BUILD/netring-agent"
ARTIFACTS="$E2E_BUILD/artifacts/page"
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

node_add demo 10.244.93.0/24
node_pod web shop frontend
node_pod cart shop cart
node_pod cache data redis
# Sampled 1:4 (not 1 as the other scenarios; the demo samples 1:20), so
# the page shows estimated counts (marked ~).
RATE=4
node_agent_start demo --sample-rate=$RATE

# The demo's traffic, bounded: it runs while the browser looks.
pod_exec cart iperf3 -s -D -p 5201 --pidfile "$E2E_TMP/iperf-cart.pid"
pod_exec cache iperf3 -s -D -p 6379 --pidfile "$E2E_TMP/iperf-cache.pid"
on_exit "kill \$(cat $E2E_TMP/iperf-cart.pid $E2E_TMP/iperf-cache.pid)"
sleep 0.5
traffic() { # NETNS DEST PORT RATE: iperf3 rounds until killed
  ip netns exec "$1" bash -c "while :; do iperf3 -c $2 -p $3 -t 5 -b $4 >/dev/null 2>&1 || sleep 0.5; done" &
  on_exit "kill $!"
}
traffic "$(pod_netns web)" "$(pod_ip cart)" 5201 20M
traffic "$(pod_netns cart)" "$(pod_ip cache)" 6379 5M
pod_exec web ping -q -i 0.2 "$(pod_ip cache)" >/dev/null 2>&1 &
on_exit "kill $!"

t0=$SECONDS
node_exec_in demo /usr/bin/python3 "$LIB/page_check.py" --url http://127.0.0.1:9991/ --artifacts "$ARTIFACTS" \
  --web-netns "$(pod_netns web)" --cache-ip "$(pod_ip cache)" --sample-rate $RATE 2>"$E2E_TMP/selenium.log" || {
  tail -20 "$E2E_TMP/selenium.log" >&2
  fail "the page check failed (screenshots so far in $ARTIFACTS)"
}
log "browser checks took $((SECONDS - t0)) s; screenshots: $(cd "$ARTIFACTS" && ls | paste -sd' ') in $ARTIFACTS"
[ "$E2E_FAILED" = 0 ] && log PASS
