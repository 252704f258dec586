#!/usr/bin/env bash
# Reliability: netring-agent on pods made by the real CNI plugins (bridge +
# host-local), in a node namespace of its own, put through
#   churn     pods created and deleted while traffic runs: the agent's fds,
#             RSS, threads, BPF links, sampler config-map entries, mirror
#             links and identity-index entries stay flat (least-squares
#             slope printed), every new pod is
#             hooked, every deleted pod's series are gone after the grace
#             period; every 10th pod is deleted while it is sending
#   kill      SIGKILL every few seconds under ping and iperf3: no pod packet
#             lost, iperf3 completes, one hook per interface and direction at
#             the end, one mirror link
#   overload  every packet sampled (rate 1, one worker, a thirtieth of a
#             CPU) under a small-packet flood offering three times or more
#             what it can take: /healthz and /metrics answer (within the
#             kubelet's and Prometheus's timeouts; their 100 ms goal is
#             reported), RSS stays under the chart's memory limit, every lost
#             sample is counted by stage (received + lost = the sequence
#             numbers the sampler issued), pods lose nothing (ping, an iperf3
#             through the flood), and an exact count is right again once the
#             flood ends
#   hostile   bad API queries (each a 4xx JSON body), random requests, slow
#             clients, hundreds of follow streams at once, a capture client
#             that stops reading, a malformed PodList: no crash, bounded
#             threads and memory, probes answered
#   faults    the mirror link deleted by someone else, bpffs not mounted,
#             conntrack unavailable (a kernel without netfilter netlink)
#   kubeapi   the Kubernetes API (the FAKE API server, tests/tools: no real
#             one runs here) answering 500s, a storm of 410 Gone, slow
#             answers, and down (connections refused) for minutes: flows keep
#             flowing with their names, the watches' health is exported,
#             reconnects back off, and a pod added while the API was down is
#             named once it is back
#   soak      the default sample rate with mixed traffic: RSS slope, CPU,
#             samples lost, and exact counts checked at the end
# Profiles: short (CI, a few minutes) and long (ctest label soak: 1,000 churn
# cycles, SIGKILL every 10 s for 5 minutes, the API down for 3 minutes, a
# 30-minute soak).
# Usage (as root): e2e/reliability.sh [--profile short|long] [--json FILE] [--phases "churn kill ..."]
# The JSON holds every figure with the command that produced it; bench/report.py
# turns it into REPORT.md's reliability section.
# Conditions are polled with generous timeouts: never a fixed sleep that
# assumes a fast machine; latencies fail the run only past the timeouts of
# the kubelet (1 s) and Prometheus (10 s), and are reported against the
# 100 ms goal otherwise.
set -euo pipefail
src=${NETRING_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${NETRING_BUILD_DIR:-$src/build}
agent_bin=$bld/netring-agent
[ -x "$agent_bin" ] || { echo "FAIL: $agent_bin missing (build the netring-agent target)"; exit 1; }
# shellcheck source=../scripts/lib/pods.sh
. "$src/scripts/lib/pods.sh"

profile=short
json_out=""
phases="churn kill overload hostile faults kubeapi soak"
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    --phases) phases=$2; shift 2 ;;
    *) echo "usage: $0 [--profile short|long] [--json FILE] [--phases \"churn kill overload hostile faults kubeapi soak\"]" >&2; exit 2 ;;
  esac
done
case $profile in
  short) CYCLES=30 KILL_EVERY=3 KILL_FOR=15 OVERLOAD_S=10 FOLLOWS=100 SLOW=100 FUZZ=300 KUBE_DOWN_S=20 SOAK_S=30 ;;
  long) CYCLES=1000 KILL_EVERY=10 KILL_FOR=300 OVERLOAD_S=60 FOLLOWS=1000 SLOW=500 FUZZ=5000 KUBE_DOWN_S=180 SOAK_S=1800 ;;
  *) echo "--profile: short or long, not '$profile'" >&2; exit 2 ;;
esac
cmdline="e2e/reliability.sh --profile $profile"
# The commit measured: taken now, not when the run ends an hour later.
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)

# NETRING_REL_NAME: another name (node namespace, bridge, pods' namespaces)
# and NETRING_REL_SUBNET another pod subnet, for a second run beside one
# that is running (a long profile takes over an hour).
rel_name=${NETRING_REL_NAME:-nr-rel}
node=$rel_name-node
state=$(mktemp -d /tmp/netring-reliability.XXXXXX)
agent_pid=""
bg_pids=()
cleanup() {
  set +e
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  [ -z "${cg:-}" ] || rmdir "$cg" 2>/dev/null
  [ -z "${on_down:-}" ] || ip netns exec "$node" iptables -D INPUT -p tcp --dport "$kport" -j REJECT --reject-with tcp-reset
  pods_teardown
  if [ -n "${KEEP_STATE:-}" ]; then echo "state kept in $state"; else rm -rf "$state"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM
ip netns del "$node" 2>/dev/null || true

fail() {
  echo "FAIL: $*"
  echo "--- agent log (tail)"
  tail -n 40 "$state/agent.log" 2>/dev/null
  exit 1
}
# wait_for TIMEOUT_S DESCRIPTION CMD...: polls CMD until it succeeds.
wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for: $what"
    sleep 0.1
  done
}
in_node() { ip netns exec "$node" "$@"; }
api() { in_node curl -sf --max-time 10 "http://127.0.0.1:9991$1"; }
metrics() { in_node curl -sf --max-time 10 http://127.0.0.1:9990/metrics; }
figure() {  # PHASE KEY VALUE: a figure for the JSON (VALUE is JSON)
  jq -c --arg p "$1" --arg k "$2" --argjson v "$3" '.[$p][$k] = $v' "$state/figures.json" >"$state/figures.tmp"
  mv "$state/figures.tmp" "$state/figures.json"
}
echo '{}' >"$state/figures.json"

agent_flags=(--node-name=rel-node --pods-from="$state/pods.json" --kube-api=off --label-level=pod
  --pod-grace-period=2s --enable-capture-api --capture-max-duration=30s
  --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991)
start_agent() {  # [extra flags]: starts and waits for /readyz
  # ip netns exec itself (it execs the agent), not a shell function in a
  # background subshell: $! must be the agent's pid.
  ip netns exec "$node" "$agent_bin" "${agent_flags[@]}" "$@" >>"$state/agent.log" 2>&1 &
  agent_pid=$!
  wait_for 60 "agent ready (/readyz)" in_node curl -sf http://127.0.0.1:9990/readyz
}
stop_agent() {
  [ -n "$agent_pid" ] || return 0
  kill -TERM "$agent_pid"
  local rc=0
  wait "$agent_pid" || rc=$?
  agent_pid=""
  [ "$rc" = 0 ] || fail "agent exited with status $rc after SIGTERM"
}
hooks_on() {  # DEV -> "ingress egress" (tcx programs + classic bpf filters)
  local dev=$1 tcx tcf_in tcf_eg
  tcx=$(in_node python3 "$src/e2e/lib/tcx_count.py" "$dev") || fail "tcx query on $dev"
  tcf_in=$(in_node tc filter show dev "$dev" ingress 2>/dev/null | grep ' bpf ' | grep -c ' handle ' || true)
  tcf_eg=$(in_node tc filter show dev "$dev" egress 2>/dev/null | grep ' bpf ' | grep -c ' handle ' || true)
  echo "$((${tcx% *} + tcf_in)) $((${tcx#* } + tcf_eg))"
}
mirror_links() { in_node ip -o link show | grep -c 'nr-mirror' || true; }  # a veth pair: 2 ends
hooked() { grep -qE "msg=\"interface hooked\" interface=$1( |\$)" "$state/agent.log"; }
hooks_ok() { [ "$(hooks_on "$1")" = "1 1" ]; }
# The sampler's config map (one entry per hooked interface), found through
# the programs the agent holds: its fds' fdinfo names their ids.
config_entries() {
  local pid=$1 prog map
  for prog in $(grep -h '^prog_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un); do
    [ "$(bpftool -j prog show id "$prog" 2>/dev/null | jq -r .name)" = sampler_ingress ] || continue
    for map in $(bpftool -j prog show id "$prog" | jq -r '.map_ids[]?'); do
      if [ "$(bpftool -j map show id "$map" | jq -r .name)" = config ]; then
        bpftool -j map dump id "$map" 2>/dev/null | jq length
        return
      fi
    done
  done
  echo 0
}
# resources PID -> "fds rss_kb threads bpf_links config_entries mirror_links"
# The identity index's pods, live and in their grace period (the API's status).
index_entries() { api /api/v1/status | jq '.kubernetes_index.pods + .kubernetes_index.pods_in_grace'; }
resources() {
  local pid=$1
  printf '%s %s %s %s %s %s %s\n' "$(ls /proc/"$pid"/fd | wc -l)" "$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)" \
    "$(awk '/^Threads/ {print $2}' /proc/"$pid"/status)" "$(grep -h '^link_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | wc -l)" \
    "$(config_entries "$pid")" "$(mirror_links)" "$(index_entries)"
}
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
# ping_loss FILE -> "transmitted received" from ping's summary
ping_counts() { sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' "$1"; }
start_ping() {  # FROM TO INTERVAL FILE: a background ping, its pid in last_bg
  # ip netns exec itself: $! is ping's pid, which SIGINT must reach.
  ip netns exec "$(pod_netns "$1")" ping -q -i "$3" "$(pod_ip "$2")" >"$4" 2>&1 &
  last_bg=$!
  bg_pids+=("$last_bg")
}
end_ping() {  # PID FILE WHAT: SIGINT, then 0 % loss or fail
  kill -INT "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local c
  c=$(ping_counts "$2")
  [ -n "$c" ] || fail "$3: no ping summary ($(cat "$2"))"
  [ "${c% *}" -gt 0 ] && [ "${c% *}" = "${c#* }" ] || fail "$3: ping lost packets: ${c% *} sent, ${c#* } received"
  echo "ok: $3: ping ${c% *} sent, ${c#* } received (0 % loss)"
  ping_last="${c% *}"
}
# slope FILE COLUMN: least-squares slope of column COLUMN (1-based, after the
# x in column 1) against x, and the first and last values
slope() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
c = int(sys.argv[2])
xs, ys = [r[0] for r in rows], [r[c] for r in rows]
n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
den = sum((x - mx) ** 2 for x in xs) or 1.0
print(f"{sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den:.6g} {ys[0]:g} {ys[-1]:g} {max(ys):g}")
PY
}
latency_ms() { in_node curl -s -o /dev/null -w '%{time_total}' --max-time 5 "$1" | awk '{printf "%.1f", $1 * 1000}'; }

echo "== pods"
pods_init "$state" "${rel_name}0" "${NETRING_REL_SUBNET:-10.244.85.0/24}" "$node"
pod_add a rel-shop frontend
pod_add b rel-shop cart
pods_write_podlist "$state/pods.json" rel-node
in_node sysctl -qw net.ipv6.conf.all.disable_ipv6=1
for k in a b; do pod_exec "$k" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
ip netns exec "$(pod_netns b)" iperf3 -s -p 5201 >/dev/null 2>&1 &
bg_pids+=($!)
wait_for 30 "iperf3 server in b" bash -c "ip netns exec $(pod_netns b) ss -ltn | grep -q ':5201 '"
echo "   $(pod_name a) $(pod_ip a) / $(pod_name b) $(pod_ip b), profile $profile"

has_phase() { [[ " $phases " == *" $1 "* ]]; }

# --------------------------------------------------------------------------
if has_phase churn; then
  echo "== churn: $CYCLES pods created and deleted under traffic"
  start_agent
  wait_for 30 "pod a hooked" hooked "$(pod_veth a)"
  wait_for 30 "pod b hooked" hooked "$(pod_veth b)"
  # What the agent holds for the two stable pods (their hooks, the mirror
  # link's own programs): where every churn cycle must bring it back.
  read -r _ _ _ base_links base_cfg base_mir _ <<<"$(resources "$agent_pid")"
  echo "   before: $base_links BPF links, $base_cfg config entries, $base_mir mirror link ends"
  start_ping a b 0.05 "$state/ping-churn.txt"
  ping_pid=$last_bg
  : >"$state/churn.dat"
  t0=$SECONDS
  for i in $(seq 1 "$CYCLES"); do
    pod_add "c$i" rel-churn churn >/dev/null || fail "pod_add c$i"
    pods_write_podlist "$state/pods.json" rel-node
    veth=$(pod_veth "c$i")
    wait_for 30 "churn pod $i ($veth) hooked" hooked "$veth"
    pod_exec "c$i" ping -c 1 -W 5 "$(pod_ip a)" >/dev/null || fail "churn pod $i cannot reach a"
    if [ $((i % 10)) = 0 ]; then
      # Deleted while it sends: the interface goes away mid-batch.
      pod_exec "c$i" iperf3 -c "$(pod_ip b)" -p 5201 -t 30 -b 50M >/dev/null 2>&1 &
      sleep 0.5
    fi
    pod_del "c$i"
    pods_write_podlist "$state/pods.json" rel-node
    echo "$i $(resources "$agent_pid")" >>"$state/churn.dat"
  done
  churn_s=$((SECONDS - t0))
  end_ping "$ping_pid" "$state/ping-churn.txt" "churn: a -> b throughout"
  # Every churn pod's series gone after the grace period (2 s) and the
  # PodList reload; the stable pods' stay.
  # Whole outputs first: with pipefail, grep -q leaving early fails the pipe.
  # Every family that names pods: flows, drops, retransmits, DNS, TCP.
  no_churn_series() { local m; m=$(metrics) && ! grep -v '^#' <<<"$m" | grep -q 'pod="churn-'; }
  wait_for 60 "every deleted pod's series removed" no_churn_series
  m=$(metrics)
  grep -q "src_pod=\"$(pod_name a)\"" <<<"$m" || fail "the stable pod's series went too"
  hooked_n=$(grep -c 'msg="interface hooked" interface=' "$state/agent.log")
  unhooked_n=$(grep -c 'msg="interface unhooked"' "$state/agent.log" || true)
  [ "$hooked_n" -ge $((CYCLES + 2)) ] || fail "hooked $hooked_n interfaces for $CYCLES churn pods + 2"
  # The last pod's release may still be under way: its end state is what counts.
  settled() {
    read -r _ _ _ links cfg mir idx <<<"$(resources "$agent_pid")"
    [ "$links" = "$base_links" ] && [ "$cfg" = "$base_cfg" ] && [ "$mir" = "$base_mir" ] && [ "$idx" = 2 ]
  }
  wait_for 30 "the last churn pod released (hooks, links, the index back to the 2 stable pods)" settled
  last="$CYCLES $(resources "$agent_pid")"
  read -r _ fds rss thr links cfg mir idx <<<"$last"
  [ "$links" = "$base_links" ] || fail "the agent holds $links BPF links after churn ($base_links before)"
  [ "$cfg" = "$base_cfg" ] || fail "sampler config map holds $cfg entries after churn ($base_cfg before)"
  [ "$mir" = 2 ] || fail "$mir mirror link ends (want one pair)"
  echo "   cycle fds rss_kb threads bpf_links config_entries mirror_links index_entries: first $(head -n1 "$state/churn.dat"), last $last"
  skip=$((CYCLES / 5))  # the first fifth warms allocators and caches up
  tail -n +"$((skip + 1))" "$state/churn.dat" >"$state/churn-steady.dat"
  js='{}'
  col=1
  for name in fds rss_kb threads bpf_links config_entries mirror_links index_entries; do
    read -r s first lastv maxv <<<"$(slope "$state/churn-steady.dat" "$col")"
    printf '   %-15s slope %+.4g per cycle (%+.1f per 1000 cycles), %s -> %s, max %s\n' "$name" "$s" \
      "$(awk -v s="$s" 'BEGIN {print s * 1000}')" "$first" "$lastv" "$maxv"
    js=$(jq -c --arg n "$name" --argjson s "$s" --argjson f "$first" --argjson l "$lastv" --argjson m "$maxv" \
      '.[$n] = {slope_per_1000: ($s * 1000), first: $f, last: $l, max: $m}' <<<"$js")
    col=$((col + 1))
  done
  # fds and threads may move by a few (HTTP keep-alive, a discovery
  # worker) but not with the number of pods.
  fd_growth=$(jq '.fds.last - .fds.first' <<<"$js")
  [ "$fd_growth" -le 8 ] || fail "fds grew by $fd_growth over $CYCLES cycles"
  figure churn cycles "$CYCLES"
  figure churn seconds "$churn_s"
  figure churn hooked "$hooked_n"
  figure churn unhooked "$unhooked_n"
  figure churn ping_sent "$ping_last"
  figure churn resources "$js"
  figure churn command "\"$cmdline --phases churn\""
  echo "ok: churn: $CYCLES pods hooked and released in ${churn_s}s, series removed, resources flat"
  stop_agent
fi

# --------------------------------------------------------------------------
if has_phase kill; then
  echo "== kill: SIGKILL every ${KILL_EVERY}s for ${KILL_FOR}s under traffic"
  start_agent
  start_ping a b 0.01 "$state/ping-kill.txt"
  ping_pid=$last_bg
  pod_exec a iperf3 -c "$(pod_ip b)" -p 5201 -t $((KILL_FOR + 5)) -b 200M >"$state/iperf-kill.txt" 2>&1 &
  iperf_pid=$!
  kills=0
  end=$((SECONDS + KILL_FOR))
  while [ "$SECONDS" -lt "$end" ]; do
    sleep "$KILL_EVERY"
    kill -KILL "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
    kills=$((kills + 1))
    start_agent
  done
  iperf_rc=0
  wait "$iperf_pid" || iperf_rc=$?
  [ "$iperf_rc" = 0 ] || fail "iperf3 under SIGKILLs exited $iperf_rc: $(tail -3 "$state/iperf-kill.txt")"
  end_ping "$ping_pid" "$state/ping-kill.txt" "kill: a -> b every 10 ms across $kills SIGKILLs"
  for k in a b; do
    wait_for 30 "$(pod_veth $k) hooked by the last agent" hooks_ok "$(pod_veth $k)"
  done
  [ "$(mirror_links)" = 2 ] || fail "$(mirror_links) mirror link ends after $kills SIGKILLs (want one pair)"
  echo "ok: kill: $kills SIGKILLs, iperf3 completed, one hook per interface and direction, one mirror link"
  figure kill kills "$kills"
  figure kill every_s "$KILL_EVERY"
  figure kill ping_sent "$ping_last"
  figure kill ping_lost 0
  figure kill command "\"$cmdline --phases kill\""
  stop_agent
fi

# --------------------------------------------------------------------------
if has_phase overload; then
  echo "== overload: every packet sampled, one worker, small-packet floods for ${OVERLOAD_S}s"
  start_agent --sample-rate=1 --exact-flows=off --workers=1
  # The agent gets a thirtieth of a CPU (a CPU limit as a pod spec sets one;
  # 30 ms periods, since cgroup v2's quota is 1 ms at least), so that the
  # flood offers it three times or more what it can take: 64-byte UDP over
  # 1,000 flows from bench/pod_udp_gen (AF_XDP TX in pod a, 200,000-230,000
  # a second on a busy 2-core machine), of which it takes ~50,000 a second
  # (0.6 us each). An iperf3 flood (50,000-85,000 a second) never offered
  # more than it took at any share whose probes stayed under a second. The
  # probes wait for the quota too: measured, not asserted, against 100 ms
  # (at 0.05 CPU, 1.9x: 79 and 130 ms; at 0.1 CPU, 1.07x: 7 and 10 ms).
  cg=""
  if [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
    cg=/sys/fs/cgroup/cpu/netring-reliability-$$
    mkdir -p "$cg"
    echo 30000 >"$cg/cpu.cfs_period_us"
    echo 1000 >"$cg/cpu.cfs_quota_us"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
    cg=/sys/fs/cgroup/netring-reliability-$$
    mkdir -p "$cg"
    echo "1000 30000" >"$cg/cpu.max"
  fi
  if [ -n "$cg" ]; then
    echo "$agent_pid" >"$cg/cgroup.procs"
    cpu_limit='"0.033 CPU (cgroup)"'
  else
    echo "   no writable cpu cgroup: the agent runs unlimited (the floods may not overload it)"
    cpu_limit='"none"'
  fi
  limit_kb=$(awk '/^ *limits:/ {l = 1} l && /memory:/ {print $2; exit}' "$src/charts/netring/values.yaml" | sed 's/Mi$//')
  limit_kb=$((limit_kb * 1024))
  status0=$(api /api/v1/status)
  start_ping a b 0.01 "$state/ping-over.txt"
  ping_pid=$last_bg
  gen=$bld/bench/pod_udp_gen
  [ -x "$gen" ] || fail "$gen missing (build the pod_udp_gen target)"
  # b drops the flood on arrival (no ICMP storm back), as bench/pod_cost does.
  pod_exec b iptables -t raw -A PREROUTING -p udp --dport 9 -j DROP
  ip netns exec "$(pod_netns a)" iperf3 -s -1 -p 5202 >/dev/null 2>&1 &
  bg_pids+=($!)
  wait_for 30 "iperf3 server in a" bash -c "ip netns exec $(pod_netns a) ss -ltn | grep -q ':5202 '"
  pod_exec a ping -c 1 -W 2 "$(pod_ip b)" >/dev/null  # both MACs in the bridge's table
  mac() { pod_exec "$1" cat /sys/class/net/eth0/address; }
  ip netns exec "$(pod_netns a)" "$gen" --ifname eth0 --src-mac "$(mac a)" --dst-mac "$(mac b)" \
    --src-ip "$(pod_ip a)" --dst-ip "$(pod_ip b)" --dport 9 --flows 1000 --size 64 --seconds "$OVERLOAD_S" \
    >"$state/iperf-flood.txt" 2>&1 &
  flood=($!)
  # A TCP transfer b -> a through the flood: it must complete.
  pod_exec b iperf3 -c "$(pod_ip a)" -p 5202 -t "$OVERLOAD_S" -b 20M >"$state/iperf-over.txt" 2>&1 &
  over_tcp=$!
  : >"$state/probe-ms.txt"
  rss_max=0
  while kill -0 "${flood[0]}" 2>/dev/null; do
    h=$(latency_ms http://127.0.0.1:9990/healthz)
    m=$(latency_ms http://127.0.0.1:9990/metrics)
    echo "$h $m" >>"$state/probe-ms.txt"
    rss=$(awk '/^VmRSS/ {print $2}' /proc/"$agent_pid"/status)
    [ "$rss" -le "$rss_max" ] || rss_max=$rss
    sleep 0.2
  done
  wait "${flood[0]}" || fail "the UDP flood failed: $(tail -3 "$state/iperf-flood.txt")"
  pod_exec b iptables -t raw -D PREROUTING -p udp --dport 9 -j DROP
  flood_pps=$(tail -n1 "$state/iperf-flood.txt" | jq '.pps' 2>/dev/null || echo 0)
  end_ping "$ping_pid" "$state/ping-over.txt" "overload: a -> b during the flood"
  wait "$over_tcp" || fail "iperf3 b -> a during the flood did not complete: $(tail -n 3 "$state/iperf-over.txt")"
  echo "ok: overload: iperf3 b -> a completed through the flood ($(grep -E 'receiver$' "$state/iperf-over.txt" | awk '{print $7, $8}'))"
  status1=$(api /api/v1/status)
  received=$(($(jq '.samples.received' <<<"$status1") - $(jq '.samples.received' <<<"$status0")))
  lost=$(($(jq '.samples.lost' <<<"$status1") - $(jq '.samples.lost' <<<"$status0")))
  offered=$((received + lost))
  read -r hmax mmax < <(awk '{if ($1 > h) h = $1; if ($2 > m) m = $2} END {print h, m}' "$state/probe-ms.txt")
  probes=$(wc -l <"$state/probe-ms.txt")
  echo "   flood: $(tail -n1 "$state/iperf-flood.txt")"
  echo "   samples offered $offered, received $received, lost $lost (load $(awk -v o="$offered" -v r="$received" 'BEGIN {printf "%.2f", r ? o / r : 0}')x what was consumed)"
  echo "   by stage: $(jq -c '.samples.lost_by_reason // .samples' <<<"$status1" | cut -c1-300)"
  echo "   probes: $probes rounds, /healthz max ${hmax} ms, /metrics max ${mmax} ms; RSS max $((rss_max / 1024)) MiB (limit $((limit_kb / 1024)) MiB)"
  # The kubelet's contract is its probe timeout (1 s by default) and
  # Prometheus's scrape timeout (10 s): those fail the run. The 100 ms goal
  # is a figure for the report, not a test of this machine's speed.
  awk -v h="$hmax" 'BEGIN {exit !(h <= 1000)}' || fail "/healthz took ${hmax} ms under overload (the kubelet gives up at 1 s)"
  awk -v m="$mmax" 'BEGIN {exit !(m <= 10000)}' || fail "/metrics took ${mmax} ms under overload (Prometheus gives up at 10 s)"
  [ "$rss_max" -le "$limit_kb" ] || fail "RSS $rss_max kB over the chart's limit $limit_kb kB"
  # Recovery: the flood is over; an exact count at rate 1 again. A loss is
  # a gap in a CPU's sequence, seen when that CPU's next sample arrives: the
  # samples dropped at the flood's very end are counted only then. So each
  # CPU sends a few samples first (a pinned ping: its echo and the reply
  # are sampled on the sender's CPU, in the veth's softirq), and the count
  # must hold still over two of the publisher's 1 s rounds before it is
  # taken. Without this the tail's drops could surface in the check below
  # (fresh clone at e36cd87: 2844885 -> 2851003).
  for cpu in $(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))'); do
    pod_exec a taskset -c "$cpu" ping -c 3 -i 0.05 -W 2 "$(pod_ip b)" >/dev/null || fail "ping on CPU $cpu after the flood"
  done
  before=$(api /api/v1/status | jq '.samples.lost')
  settled=$SECONDS
  for _ in $(seq 15); do
    sleep 2
    now=$(api /api/v1/status | jq '.samples.lost')
    [ "$now" != "$before" ] || break
    before=$now
  done
  echo "   lost samples held still at $before after $((SECONDS - settled)) s ($((before - $(jq '.samples.lost' <<<"$status1"))) counted after the flood's end)"
  pod_exec a ping -c 50 -i 0.02 -s 300 "$(pod_ip b)" >/dev/null || fail "ping after the flood"
  big_icmp() { api '/api/v1/flows?limit=10000' | jq -e --arg s "$(pod_name a)" '[.flows[] | select(.src.pod == $s and .protocol == "icmp")] | length >= 1' >/dev/null; }
  wait_for 30 "icmp flow after the flood" big_icmp
  after=$(api /api/v1/status | jq '.samples.lost')
  [ "$after" = "$before" ] || fail "samples lost after the flood ended: $before -> $after"
  echo "ok: overload: pods lost nothing, probes answered (100 ms goal: healthz $hmax ms, metrics $mmax ms), every lost sample counted, no loss once the flood ended"
  figure overload seconds "$OVERLOAD_S"
  figure overload samples_offered "$offered"
  figure overload samples_received "$received"
  figure overload samples_lost "$lost"
  figure overload lost_by_reason "$(jq -c '.samples.lost_by_reason // {}' <<<"$status1")"
  figure overload healthz_max_ms "$hmax"
  figure overload metrics_max_ms "$mmax"
  figure overload rss_max_mib "$((rss_max / 1024))"
  figure overload memory_limit_mib "$((limit_kb / 1024))"
  figure overload ping_sent "$ping_last"
  figure overload cpu_limit "$cpu_limit"
  figure overload flood_pps "${flood_pps:-0}"
  figure overload command "\"$cmdline --phases overload\""
  stop_agent
  [ -z "$cg" ] || rmdir "$cg"
fi

# --------------------------------------------------------------------------
if has_phase hostile; then
  echo "== hostile: bad queries, random requests, slow clients, $FOLLOWS follows"
  start_agent
  pid=$agent_pid
  read -r _ rss0 thr0 <<<"$(awk '/^VmRSS/ {r = $2} /^Threads/ {t = $2} END {print 0, r, t}' /proc/"$pid"/status)"
  # Each bad request: a 4xx status and a JSON body with an error.
  # 100 kB: over cpp-httplib's request-line limit, under the kernel's limit
  # on one exec argument (128 kB).
  long=$(head -c 100000 /dev/zero | tr '\0' 'a')
  bad=0
  n_bad=0
  for q in '/api/v1/flows?limit=abc' '/api/v1/flows?limit=-1' '/api/v1/flows?protocol=nope' \
    '/api/v1/flows?since=yesterday' '/api/v1/flows?window=1parsec' '/api/v1/flows?src_pod=%ff%fe' \
    '/api/v1/flows?limit=1&limit=2' '/api/v1/nothing' '/api/v1/flows/../../etc/passwd' "/api/v1/flows?q=$long" \
    '/api/v1/capture?duration=10years' '/api/v1/capture?filter=((((' '/api/v1/flows?follow=maybe' \
    '/api/v1/top?by=colour'; do
    n_bad=$((n_bad + 1))
    code=$(in_node curl -s -o "$state/body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:9991$q" || true)
    if [[ "$code" != 4* ]] || ! jq -e '.error' "$state/body" >/dev/null 2>&1; then
      echo "   bad: ${q:0:60} -> $code $(head -c 120 "$state/body")"
      bad=$((bad + 1))
    fi
  done
  for m in DELETE PUT POST PATCH; do
    n_bad=$((n_bad + 1))
    # With a body length (0), as every HTTP client sends one with these methods.
    code=$(in_node curl -s -o "$state/body" -w '%{http_code}' --max-time 10 -X "$m" -H 'Content-Length: 0' \
      http://127.0.0.1:9991/api/v1/flows || true)
    if [ "$code" != 405 ] || ! jq -e '.error' "$state/body" >/dev/null 2>&1; then
      echo "   bad: $m /api/v1/flows -> $code $(head -c 120 "$state/body")"
      bad=$((bad + 1))
    fi
  done
  [ "$bad" = 0 ] || fail "$bad of $n_bad bad requests without a 4xx JSON answer"
  echo "ok: $n_bad bad requests, each a 4xx (JSON body where the API answers)"
  # Random requests over raw sockets: methods, paths, query strings,
  # headers and bodies, valid and not; every answer below 500.
  in_node /usr/bin/python3 - "$FUZZ" >"$state/fuzz.txt" <<'PY' || fail "random requests: $(tail -5 "$state/fuzz.txt")"
import random, socket, sys
random.seed(7)
n = int(sys.argv[1])
paths = ["/api/v1/flows", "/api/v1/top", "/api/v1/status", "/api/v1/interfaces", "/api/v1/capture", "/", "/x"]
keys = ["limit", "protocol", "src_pod", "dst_pod", "namespace", "port", "since", "follow", "window", "by", "filter"]
def junk(k):
    return "".join(random.choice("abc%=&?/\\\"'<>{}[] \t\x00\xff123-_.:") for _ in range(random.randint(0, k)))
codes = {}
for i in range(n):
    m = random.choice(["GET", "GET", "GET", "HEAD", "POST", "OPTIONS", "TRACE", "G\x00T", junk(8)])
    q = "&".join(f"{random.choice(keys)}={junk(20)}" for _ in range(random.randint(0, 6)))
    path = random.choice(paths) + ("?" + q if q else "")
    if random.random() < 0.1: path = junk(300)
    hdrs = "".join(f"{junk(10)}: {junk(40)}\r\n" for _ in range(random.randint(0, 4)))
    if random.random() < 0.05: hdrs += "X-Big: " + "b" * random.randint(8000, 70000) + "\r\n"
    req = f"{m} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{hdrs}Connection: close\r\n\r\n".encode("latin-1", "replace")
    if "follow=true" in path: continue
    s = socket.create_connection(("127.0.0.1", 9991), timeout=10)
    try:
        s.sendall(req)
        data = s.recv(64)
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        data = b""
    finally:
        s.close()
    code = data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "closed"
    codes[code] = codes.get(code, 0) + 1
    if code.startswith("5"):
        print(f"5xx for {req[:120]!r}")
        sys.exit(1)
print(" ".join(f"{k}:{v}" for k, v in sorted(codes.items())))
PY
  echo "ok: $FUZZ random requests, answers by status: $(cat "$state/fuzz.txt")"
  # Slow clients: connections that send half a request and stall, then
  # follow streams that are never read from, all at once; the probes and the
  # API must still answer.
  in_node /usr/bin/python3 - "$SLOW" "$FOLLOWS" >"$state/slow.txt" 2>&1 <<'PY' &
import select, socket, sys, time
slow, follows = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(slow):
    for port in (9990, 9991):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /api/v1/flows HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        held.append(s)
# Every follow request sent at once, their status lines read as they come
# (the API serves a few streams, refuses more with 429, queues the rest).
socks = []
for i in range(follows):
    f = socket.create_connection(("127.0.0.1", 9991))
    f.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    f.sendall(b"GET /api/v1/flows?follow=true HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    socks.append(f)
# poll, not select: the long profile holds 2,000 sockets, past select's
# FD_SETSIZE (1024), where select() refuses the set.
codes, pending, deadline = {}, {f.fileno(): f for f in socks}, time.time() + 20
p = select.poll()
for fd in pending:
    p.register(fd, select.POLLIN)
while pending and time.time() < deadline:
    for fd, _ in p.poll(1000):
        f = pending.pop(fd, None)
        if f is None:
            continue
        p.unregister(fd)
        try:
            line = f.recv(12)
            code = line.split(b" ")[1].decode() if line.startswith(b"HTTP/1.1 ") else "closed"
        except Exception:
            code = "reset"
        codes[code] = codes.get(code, 0) + 1
if pending:
    codes["unanswered_20s"] = len(pending)
held += socks  # never read again
print("follows:", " ".join(f"{k}:{v}" for k, v in sorted(codes.items())), flush=True)
time.sleep(15)
PY
  slow_pid=$!
  bg_pids+=("$slow_pid")
  follows_open() { grep -q '^follows:' "$state/slow.txt" || ! kill -0 "$slow_pid" 2>/dev/null; }
  wait_for 90 "slow clients and follows open" follows_open
  grep -q '^follows:' "$state/slow.txt" || fail "the slow-client script ended early: $(tail -n 5 "$state/slow.txt")"
  hmax=0
  for i in $(seq 1 20); do
    h=$(latency_ms http://127.0.0.1:9990/healthz)
    awk -v h="$h" -v m="$hmax" 'BEGIN {exit !(h > m)}' && hmax=$h
    sleep 0.1
  done
  api_ms=$(in_node curl -s -o /dev/null -w '%{time_total}' --max-time 30 'http://127.0.0.1:9991/api/v1/flows?limit=10' |
    awk '{printf "%.1f", $1 * 1000}')
  thr=$(awk '/^Threads/ {print $2}' /proc/"$pid"/status)
  rss=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)
  echo "   $(cat "$state/slow.txt"); with $SLOW stalled requests per port: /healthz max ${hmax} ms, flows ${api_ms} ms; threads $thr0 -> $thr, RSS $((rss0 / 1024)) -> $((rss / 1024)) MiB"
  awk -v h="$hmax" 'BEGIN {exit !(h <= 1000)}' || fail "/healthz took ${hmax} ms with stalled clients (the kubelet gives up at 1 s)"
  awk -v h="$api_ms" 'BEGIN {exit !(h > 0)}' || fail "the API did not answer with stalled clients and follows open"
  # The API listener is gated as the metrics one is: stalled connections
  # wait on its event thread, so every follow request gets its answer (a
  # stream, or 429 past the cap) at once.
  follows=$(sed -n 's/^follows: //p' "$state/slow.txt")
  case " $follows " in
    *unanswered*) fail "follow requests unanswered with $SLOW stalled connections per port: $follows" ;;
  esac
  for c in $follows; do
    case "${c%%:*}" in 200 | 429) ;; *) fail "a follow request got ${c%%:*} ($follows)" ;; esac
  done
  [ "$thr" -le $((thr0 + 64)) ] || fail "threads grew from $thr0 to $thr"
  kill "$slow_pid" 2>/dev/null || true
  wait "$slow_pid" 2>/dev/null || true
  # A capture client that stops reading: the capture ends at its duration,
  # a second one meanwhile is refused (429), and a third works afterwards.
  in_node /usr/bin/python3 - <<'PY' >"$state/capture-stall.txt" 2>&1 &
import socket, time
s = socket.create_connection(("127.0.0.1", 9991))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.sendall(b"GET /api/v1/capture?duration=3s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
time.sleep(8)
print("stalled client done")
PY
  cap_pid=$!
  bg_pids+=("$cap_pid")
  capture_running() { api /api/v1/status | jq -e '.capture_api.running' >/dev/null; }
  wait_for 30 "stalled capture running" capture_running
  pod_exec a ping -c 20 -i 0.01 -s 1200 "$(pod_ip b)" >/dev/null
  code=$(in_node curl -s -o /dev/null -w '%{http_code}' --max-time 10 'http://127.0.0.1:9991/api/v1/capture?duration=1s' || true)
  [ "$code" = 429 ] || fail "a second capture during the first got $code (want 429)"
  wait "$cap_pid" || true
  capture_idle() { ! capture_running; }
  wait_for 30 "the stalled capture ended" capture_idle
  code=$(in_node curl -s -o "$state/after.pcap" -w '%{http_code}' --max-time 10 'http://127.0.0.1:9991/api/v1/capture?duration=1s' || true)
  [ "$code" = 200 ] || fail "a capture after the stalled one got $code"
  echo "ok: a capture client that stops reading ends at its duration; one at a time (429), the next works"
  # A malformed PodList: a clear error, the last good identities kept.
  cp "$state/pods.json" "$state/pods.good"
  printf '{"apiVersion": "v1", "kind": "List", "items": [{"metadata": ' >"$state/pods.json"
  reported() { grep 'level=warn' "$state/agent.log" | grep 'reloading --pods-from failed' >/dev/null; }
  wait_for 30 "the malformed PodList is reported" reported
  # Bulk TCP: counted in the kernel, so a flow exists whatever the sample
  # rate draws (three pings at 1:100 would most often leave none).
  pod_exec a iperf3 -c "$(pod_ip b)" -p 5201 -n 20M >/dev/null || fail "iperf3 after the malformed PodList"
  named() { api '/api/v1/flows?limit=10000' | jq -e --arg s "$(pod_name a)" '[.flows[] | select(.src.pod == $s)] | length >= 1' >/dev/null; }
  wait_for 30 "flows still named after a malformed PodList" named
  mv "$state/pods.good" "$state/pods.json"
  echo "ok: malformed PodList: $(grep 'reloading --pods-from failed' "$state/agent.log" | tail -n1 | cut -c1-160)"
  kill -0 "$pid" || fail "the agent died"
  figure hostile bad_requests "$n_bad"
  figure hostile random_requests "$FUZZ"
  figure hostile random_answers "\"$(cat "$state/fuzz.txt")\""
  figure hostile stalled_per_port "$SLOW"
  figure hostile follows "\"$(sed -n 's/^follows: //p' "$state/slow.txt")\""
  figure hostile healthz_max_ms "$hmax"
  figure hostile api_ms_under_stall "$api_ms"
  figure hostile threads "{\"before\": $thr0, \"under_load\": $thr}"
  figure hostile command "\"$cmdline --phases hostile\""
  stop_agent
fi

# --------------------------------------------------------------------------
if has_phase faults; then
  echo "== faults: the mirror link deleted by someone else; bpffs not mounted"
  start_agent
  mirror=$(in_node ip -o link show | sed -n 's/^[0-9]*: \(nr-mirror[^@:]*\).*/\1/p' | head -n1)
  [ -n "$mirror" ] || fail "no mirror link"
  start_ping a b 0.01 "$state/ping-fault.txt"
  ping_pid=$last_bg
  in_node ip link del "$mirror"
  # The agent notices (within a second or two), stops cleanly with status 1
  # naming the link, and the restart a kubelet makes recreates it.
  rc=0
  for i in $(seq 1 300); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$agent_pid" 2>/dev/null && fail "the agent still runs 30 s after its mirror link was deleted"
  wait "$agent_pid" || rc=$?
  agent_pid=""
  [ "$rc" = 1 ] || fail "the agent exited $rc after its mirror link was deleted (want 1)"
  grep -q 'the mirror link was deleted by someone else' "$state/agent.log" || fail "no log line names the deleted mirror link"
  end_ping "$ping_pid" "$state/ping-fault.txt" "faults: a -> b while the mirror link was deleted and the agent stopped"
  for k in a b; do
    [ "$(hooks_on "$(pod_veth $k)")" = "0 0" ] || fail "$(pod_veth $k) still hooked after the agent stopped: $(hooks_on "$(pod_veth $k)")"
  done
  start_agent
  [ "$(mirror_links)" = 2 ] || fail "$(mirror_links) mirror link ends after the restart"
  for k in a b; do wait_for 30 "$(pod_veth $k) hooked again" hooks_ok "$(pod_veth $k)"; done
  figure faults mirror_deleted '"the agent stopped with status 1 naming the link, unhooked; its restart recreated the link"'
  echo "ok: mirror link deleted: $(grep 'the mirror link was deleted' "$state/agent.log" | tail -n1 | cut -c1-150); restart recreated it"
  stop_agent
  # bpffs not mounted in the agent's mount namespace: it runs, or falls back
  # with a logged reason, and pods are unaffected either way.
  mark=$(wc -l <"$state/agent.log")
  ip netns exec "$node" unshare -m sh -c "umount /sys/fs/bpf 2>/dev/null; exec $agent_bin ${agent_flags[*]}" >>"$state/agent.log" 2>&1 &
  agent_pid=$!
  wait_for 60 "agent ready without bpffs" in_node curl -sf http://127.0.0.1:9990/readyz
  pod_exec a ping -c 5 -i 0.1 "$(pod_ip b)" >/dev/null || fail "ping without bpffs"
  backend=$(api /api/v1/status | jq -c '{backend: .backend, fallbacks: .fallbacks}' | cut -c1-200)
  echo "ok: without bpffs: $backend"
  figure faults no_bpffs "$(jq -c . <<<"$backend" 2>/dev/null || echo '"ran"')"
  stop_agent
  # conntrack unavailable: the agent as on a kernel without netfilter netlink
  # (tests/tools/without_nfnetlink.cpp). Flows flow and are named; the status
  # and netring_kernel_feature say why service backends stay unresolved.
  nonf=$bld/tests/without-nfnetlink
  [ -x "$nonf" ] || fail "$nonf missing (build the without-nfnetlink target)"
  ip netns exec "$node" "$nonf" "$agent_bin" "${agent_flags[@]}" >>"$state/agent.log" 2>&1 &
  agent_pid=$!
  wait_for 60 "agent ready without conntrack" in_node curl -sf http://127.0.0.1:9990/readyz
  start_ping a b 0.01 "$state/ping-noct.txt"
  ping_pid=$last_bg
  pod_exec a iperf3 -c "$(pod_ip b)" -p 5201 -t 2 >"$state/iperf-noct.txt" 2>&1 || fail "iperf3 without conntrack"
  tcp_named() { api '/api/v1/flows?limit=10000' | jq -e --arg s "$(pod_name a)" --arg d "$(pod_name b)" '[.flows[] | select(.protocol == "tcp" and .dst.port == 5201 and .src.pod == $s and .dst.pod == $d)] | length >= 1'; }
  wait_for 30 "a named TCP flow a -> b without conntrack" tcp_named
  end_ping "$ping_pid" "$state/ping-noct.txt" "faults: a -> b without conntrack"
  ct=$(api /api/v1/status | jq -c '[.fallbacks[] | select(.what == "conntrack")][0]')
  [ "$(jq -r .chosen <<<"$ct")" = off ] && jq -r .reason <<<"$ct" | grep -q 'nfct_open.*not supported' ||
    fail "no conntrack fallback in the status naming the cause: $ct"
  metrics | grep -qx 'netring_kernel_feature{feature="conntrack"} 0' || fail "netring_kernel_feature{feature=\"conntrack\"} is not 0"
  grep -q 'conntrack unavailable: service backends will not be resolved' "$state/agent.log" || fail "no log line says conntrack is unavailable"
  echo "ok: conntrack unavailable: $ct; pods lost nothing, flows named"
  figure faults no_conntrack "$ct"
  figure faults command "\"$cmdline --phases faults\""
  stop_agent
fi

# --------------------------------------------------------------------------
if has_phase kubeapi; then
  echo "== kubeapi: the Kubernetes API answering 500s, 410 storms, slow answers, down for ${KUBE_DOWN_S}s"
  kapi=$bld/tests/fake-kube-apiserver
  [ -x "$kapi" ] || fail "$kapi missing (build the fake-kube-apiserver target)"
  # The FAKE API server (no real one can run here): the pods of pods.json as
  # objects shaped as the real API returns them, list+watch with
  # resourceVersions, 410 after compaction; faults by its control file.
  kube_objects() {
    jq '{pods: [.items[] | {namespace: .metadata.namespace, name: .metadata.name, ip: .status.podIP,
          owner_kind: "ReplicaSet", owner_name: .metadata.ownerReferences[0].name,
          template_hash: .metadata.labels["pod-template-hash"], node: .spec.nodeName}],
         services: [], nodes: []}' "$state/pods.json" >"$state/kube-objects.tmp"
    mv "$state/kube-objects.tmp" "$state/kube-objects.json"
  }
  kube_objects
  rm -f "$state/kubeconfig"
  ip netns exec "$node" "$kapi" --objects "$state/kube-objects.json" --kubeconfig-out "$state/kubeconfig" \
    --control "$state/kube-control" >"$state/kubeapi.log" 2>&1 &
  kube_pid=$!
  bg_pids+=("$kube_pid")
  wait_for 30 "the fake API server" test -s "$state/kubeconfig"
  kport=$(sed -n 's|.*server: https://127.0.0.1:\([0-9]*\).*|\1|p' "$state/kubeconfig")
  kube_ctl() {  # COMMAND...: one a line; the server deletes the file once they ran
    printf '%s\n' "$@" >"$state/kube-control"
    kill -USR1 "$kube_pid"
    wait_for 10 "the fake API server ran: $*" bash -c "! test -e $state/kube-control"
  }
  saved_flags=("${agent_flags[@]}")
  agent_flags=(--node-name=rel-node --kubeconfig="$state/kubeconfig" --label-level=pod --sample-rate=1
    --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991)
  start_agent
  pods_watch() { api /api/v1/status | jq -c '.kubernetes[] | select(.resource == "pods")'; }
  watch_sum() { api /api/v1/status | jq "[.kubernetes[].$1] | add"; }
  pods_field() { pods_watch | jq ".$1"; }
  grew() { [ "$(pods_field "$1")" -gt "$2" ]; }  # FIELD BEFORE
  connected() { [ "$(pods_watch | jq -r .connected)" = true ]; }
  disconnected() { [ "$(pods_watch | jq -r .connected)" = false ]; }
  watch_up() { metrics | sed -n 's/^netring_kubernetes_watch_up{resource="pods"} //p'; }
  wait_for 60 "the pods watch connected" connected
  # A new UDP flow a -> b (a closed port: one datagram) named on both ends.
  port=40000
  named_flow() {  # FROM PORT
    api '/api/v1/flows?limit=10000' | jq -e --arg s "$(pod_name "$1")" --arg d "$(pod_name b)" --argjson p "$2" \
      '[.flows[] | select(.protocol == "udp" and .dst.port == $p and .src.pod == $s and .dst.pod == $d)] | length >= 1'
  }
  flow_named() {  # FROM WHAT: sends one datagram on the next port, waits for it named
    port=$((port + 1))
    pod_exec "$1" bash -c "echo x >/dev/udp/$(pod_ip b)/$port" || true
    wait_for 30 "a flow $1 -> b:$port named ($2)" named_flow "$1" "$port"
  }
  flow_named a "API up"
  named_during=1

  # 500s: a mere error is retried from the resourceVersion, never a relist.
  e0=$(watch_sum errors)
  r0=$(watch_sum relists)
  pe=$(pods_field errors)
  kube_ctl "fail 20 500" drop_watches
  wait_for 60 "the pods watch failing" grew errors "$pe"
  flow_named a "answering 500s"
  named_during=$((named_during + 1))
  wait_for 120 "the pods watch back after the 500s" connected
  e1=$(watch_sum errors)
  r1=$(watch_sum relists)
  [ "$e1" -gt "$e0" ] || fail "500s: no watch error counted ($e0 -> $e1)"
  [ "$r1" = "$r0" ] || fail "500s: the watches relisted ($r0 -> $r1): an error is resumed from its resourceVersion"
  echo "ok: 500s: $((e1 - e0)) errors, resumed without a relist, names kept"

  # A storm of 410 Gone: history compacted under every open watch, 5 times.
  storms=5
  for _ in $(seq 1 $storms); do
    pr=$(pods_field relists)
    kube_ctl compact drop_watches
    wait_for 120 "the pods watch relisted after a 410" grew relists "$pr"
    wait_for 120 "the pods watch back after a 410" connected
  done
  r2=$(watch_sum relists)
  [ "$r2" -ge $((r1 + storms)) ] || fail "410 storm: $((r2 - r1)) relists for $storms compactions"
  flow_named a "after the 410 storm"
  named_during=$((named_during + 1))
  echo "ok: 410 storm: $storms compactions, $((r2 - r1)) relists, names kept"

  # Slow answers: 3 s for every request.
  pw=$(pods_field restarts)
  t=$SECONDS
  kube_ctl "delay 3000" drop_watches
  flow_named a "answering slowly"
  named_during=$((named_during + 1))
  wait_for 120 "the pods watch reconnected with 3 s answers" grew restarts "$pw"
  wait_for 120 "the pods watch back with 3 s answers" connected
  slow_s=$((SECONDS - t))
  kube_ctl "delay 0"
  echo "ok: slow answers: the pods watch back in ${slow_s}s, names kept"

  # Down: connections refused (a TCP reset, as from a host with nothing
  # listening) for KUBE_DOWN_S. Meanwhile a pod is added: the API records it,
  # and the agent must get it when it resumes.
  in_node iptables -I INPUT -p tcp --dport "$kport" -j REJECT --reject-with tcp-reset
  on_down=1
  kube_ctl drop_watches
  e3=$(watch_sum errors)
  wait_for 60 "the pods watch disconnected" disconnected
  [ "$(watch_up)" = 0 ] || fail "netring_kubernetes_watch_up{resource=\"pods\"} is '$(watch_up)' with the API down"
  # The names served from now on are as of the pods watch's last event: it
  # must say so, and not move while the API is away.
  stale_as_of=$(pods_field last_event)
  [ "$stale_as_of" != null ] || fail "the pods watch has no last event time: $(pods_watch)"
  pod_add c rel-shop checkout
  pods_write_podlist "$state/pods.json" rel-node
  kube_objects
  kill -HUP "$kube_pid"
  t=$SECONDS
  while [ $((SECONDS - t)) -lt "$KUBE_DOWN_S" ]; do
    flow_named a "the API down for $((SECONDS - t))s"
    named_during=$((named_during + 1))
    sleep 5
  done
  disconnected || fail "the pods watch connected while the API was down: $(pods_watch)"
  [ "$(pods_field last_event)" = "$stale_as_of" ] || fail "last_event moved with the API down: $stale_as_of -> $(pods_field last_event)"
  e4=$(watch_sum errors)
  watches=$(api /api/v1/status | jq '.kubernetes | length')
  tries=$((e4 - e3))
  # Exponential backoff from 0.5 s to 30 s: about 7 tries per watch in the
  # first minute, then 2 a minute; a retry loop without backoff would make
  # hundreds.
  bound=$((watches * (8 + KUBE_DOWN_S / 15)))
  [ "$tries" -le "$bound" ] || fail "the API down ${KUBE_DOWN_S}s: $tries failed tries over $watches watches (backoff allows $bound)"
  in_node iptables -D INPUT -p tcp --dport "$kport" -j REJECT --reject-with tcp-reset
  on_down=""
  t=$SECONDS
  wait_for 120 "the pods watch back after the API was down" connected
  back_s=$((SECONDS - t))
  [ "$(watch_up)" = 1 ] || fail "netring_kubernetes_watch_up{resource=\"pods\"} is '$(watch_up)' after the API came back"
  flow_named c "a pod added while the API was down"
  echo "ok: API down ${KUBE_DOWN_S}s: $tries failed tries over $watches watches, flows kept their names (as of $stale_as_of), back in ${back_s}s, the pod added meanwhile named"
  figure kubeapi errors_500 "$((e1 - e0))"
  figure kubeapi storm_compactions "$storms"
  figure kubeapi storm_relists "$((r2 - r1))"
  figure kubeapi slow_answer_ms 3000
  figure kubeapi slow_reconnect_s "$slow_s"
  figure kubeapi down_s "$KUBE_DOWN_S"
  figure kubeapi down_tries "$tries"
  figure kubeapi watches "$watches"
  figure kubeapi back_s "$back_s"
  figure kubeapi named_flows "$named_during"
  figure kubeapi command "\"$cmdline --phases kubeapi\""
  stop_agent
  agent_flags=("${saved_flags[@]}")
  kill "$kube_pid" && wait "$kube_pid" 2>/dev/null || true
  pod_del c
  pods_write_podlist "$state/pods.json" rel-node
fi

# --------------------------------------------------------------------------
if has_phase soak; then
  echo "== soak: ${SOAK_S}s at the default sample rate, mixed traffic"
  start_agent
  pid=$agent_pid
  # Exactness at the end: pod a's veth, bytes both ways, as the agent counts
  # them against the kernel's own counters, over the same quiet-to-quiet
  # window (at the default rate and --exact-flows=bulk a ping's small packets
  # are estimated, so the flows' exact check is the interfaces').
  veth=$(pod_veth a)
  agent_bytes() { api /api/v1/interfaces | jq -r --arg n "$veth" '[.interfaces[] | select(.name == $n)][0] | "\(.rx_bytes) \(.tx_bytes)"'; }
  sys_bytes() { echo "$(in_node cat /sys/class/net/"$veth"/statistics/rx_bytes) $(in_node cat /sys/class/net/"$veth"/statistics/tx_bytes)"; }
  wait_for 30 "$veth in /api/v1/interfaces" bash -c "[ \"\$(ip netns exec $node curl -sf http://127.0.0.1:9991/api/v1/interfaces | jq -r '.interfaces[].name' | grep -cx $veth)\" = 1 ]"
  read -r arx0 atx0 <<<"$(agent_bytes)"
  read -r srx0 stx0 <<<"$(sys_bytes)"
  start_ping a b 0.05 "$state/ping-soak.txt"
  ping_pid=$last_bg
  pod_exec a iperf3 -c "$(pod_ip b)" -p 5201 -t "$SOAK_S" -b 100M >"$state/iperf-soak.txt" 2>&1 &
  iperf_pid=$!
  : >"$state/soak.dat"
  t0=$SECONDS
  c0=$(cpu_ticks "$pid")
  lost0=$(api /api/v1/status | jq '.samples.lost')
  while kill -0 "$iperf_pid" 2>/dev/null; do
    # Short connections beside the bulk flow: a new flow each time.
    pod_exec b bash -c "exec 3<>/dev/tcp/$(pod_ip a)/9 2>/dev/null" || true
    echo "$((SECONDS - t0)) $(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)" >>"$state/soak.dat"
    sleep 5
  done
  wait "$iperf_pid" || fail "iperf3 during the soak: $(tail -3 "$state/iperf-soak.txt")"
  secs=$((SECONDS - t0))
  cpu=$(awk -v a="$c0" -v b="$(cpu_ticks "$pid")" -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", (b - a) / hz / (s ? s : 1)}')
  end_ping "$ping_pid" "$state/ping-soak.txt" "soak: a -> b throughout"
  sent=$ping_last
  lost1=$(api /api/v1/status | jq '.samples.lost')
  read -r s first lastv maxv <<<"$(slope "$state/soak.dat" 1)"
  exact() {
    read -r arx atx <<<"$(agent_bytes)"
    read -r srx stx <<<"$(sys_bytes)"
    [ $((arx - arx0)) = $((srx - srx0)) ] && [ $((atx - atx0)) = $((stx - stx0)) ]
  }
  wait_for 30 "$veth's bytes in the API equal the kernel's counters" exact
  moved=$(((srx - srx0) + (stx - stx0)))
  echo "ok: soak: ${secs}s, agent CPU ${cpu} cores, RSS ${first} -> ${lastv} kB (slope $s kB/s, max $maxv), samples lost $((lost1 - lost0)), $veth: $moved bytes counted exactly"
  figure soak seconds "$secs"
  figure soak cpu_cores "$cpu"
  figure soak rss_kb "{\"first\": $first, \"last\": $lastv, \"max\": $maxv, \"slope_kb_per_s\": $s}"
  figure soak samples_lost "$((lost1 - lost0))"
  figure soak exact_bytes "$moved"
  figure soak command "\"$cmdline --phases soak\""
  stop_agent
fi

jq --arg p "$profile" --arg c "$commit" \
  --arg k "$(uname -r)" --arg w "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '. + {profile: $p, commit: $c, kernel: $k, when: $w}' \
  "$state/figures.json" >"$state/figures.out"
[ -z "$json_out" ] || cp "$state/figures.out" "$json_out"
echo "PASS"
