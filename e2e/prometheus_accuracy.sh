#!/usr/bin/env bash
# netring end to end, as a user meets it: pods made by the real CNI bridge +
# host-local plugins, names from a (fake: no real one can run here) Kubernetes
# API over list+watch, the agent from the build, a real Prometheus scraping it.
#
# Ground truth and definitions:
# - conntrack (nf_conntrack_acct=1, in the client pod's netns) counts L3
#   bytes, IP header included, once per skb: a GSO/GRO super-packet is one
#   packet of its full length. The agent's flow bytes are L3 bytes per skb as
#   the sampler sees it on the pod's host veth: the same skb, so at rate 1
#   (every skb sampled, weight 1) they must be equal exactly; at 1:100 the
#   conntrack figure must lie inside the 99% interval the flow API reports.
# - /sys/class/net/<veth>/statistics counts every skb once with skb->len
#   (Ethernet header included, a GSO skb is one packet): its bytes compare
#   exactly with netring_interface_bytes_total (the sampler's exact counter,
#   also skb->len), rx with rx and tx with tx. netring_interface_packets_total
#   counts segments (gso_segs per skb): equal to the kernel's packets only
#   where there is no GSO, larger where there is.
# iperf3 only drives traffic: it counts payload, not bytes on the wire.
LIB="$(cd "$(dirname "$0")/lib" && pwd)"
source "$LIB/common.sh"
source "$LIB/pods.sh"
source "$LIB/conntrack.sh"
source "$LIB/kubeapi.sh"
source "$LIB/prometheus.sh"
source "$LIB/agent.sh"
source "$LIB/hooks.sh"

need_root
need_tool jq iperf3 ping conntrack iptables tshark prometheus curl bpftool tc python3 dnsmasq dig
[ -x "$E2E_BUILD/netring-agent" ] || die "no agent at $E2E_BUILD/netring-agent (build it first)"
[ -x "$E2E_BUILD/tests/fake-kube-apiserver" ] || die "no fake API server at $E2E_BUILD/tests/fake-kube-apiserver"

NS=e2e
CLIENT=client-7c9d5-x2k4p # Deployment client -> ReplicaSet client-7c9d5
SERVER=server-0           # StatefulSet server
EPHEMERAL=ephemeral       # a bare pod, deleted during the scenario
GRACE=5s

# --- pods, names, ground truth -------------------------------------------
pods_bridge_cleanup
pod_add "$NS" "$CLIENT"
pod_add "$NS" "$SERVER"
pod_add "$NS" "$EPHEMERAL"
CIP=${POD_IP[$NS/$CLIENT]} SIP=${POD_IP[$NS/$SERVER]} EIP=${POD_IP[$NS/$EPHEMERAL]}
VETHS=("${POD_HOSTVETH[$NS/$CLIENT]}" "${POD_HOSTVETH[$NS/$SERVER]}" "${POD_HOSTVETH[$NS/$EPHEMERAL]}")
conntrack_enable "${POD_NETNS[$NS/$CLIENT]}"

kube_pod "$NS" "$CLIENT" "$CIP" ReplicaSet client-7c9d5 7c9d5
kube_pod "$NS" "$SERVER" "$SIP" StatefulSet server
kube_pod "$NS" "$EPHEMERAL" "$EIP"
kube_start

# Only this scenario's pod veths are hooked: other programs' interfaces on
# this node (and its NIC) stay untouched.
only_ours="^(?!($(IFS='|'; echo "${VETHS[*]}"))\$).*"

pod_exec "$NS" "$SERVER" iperf3 -s -D -B "$SIP" --pidfile "$E2E_TMP/iperf3-server.pid" --logfile "$E2E_TMP/iperf3-server.log"
on_exit "kill \$(cat $E2E_TMP/iperf3-server.pid)"
iperf3 -s -D -B "$E2E_GATEWAY" --pidfile "$E2E_TMP/iperf3-host.pid" --logfile "$E2E_TMP/iperf3-host.log"
on_exit "kill \$(cat $E2E_TMP/iperf3-host.pid)"
# A DNS server for the dashboard's DNS panels: a zone of its own, no upstream.
pod_exec "$NS" "$SERVER" dnsmasq --pid-file="$E2E_TMP/dnsmasq.pid" --no-resolv --no-hosts --bind-interfaces \
  --listen-address="$SIP" --local=/test/ --address=/exists.test/10.1.2.3
on_exit "kill \$(cat $E2E_TMP/dnsmasq.pid)"

# The flows stay listed until the comparisons are done: on a loaded machine
# the checks before the flow API's can take longer than the default 30 s
# idle timeout, after which a finished connection leaves /api/v1/flows.
start_agent() { # SAMPLE_RATE LABEL_LEVEL
  agent_start --node-name "$(hostname)" --kubeconfig "$KUBECONFIG_FILE" --sample-rate "$1" \
    --label-level "$2" --pod-grace-period "$GRACE" --enable-capture-api --flow-idle-timeout 10m \
    --interfaces-exclude "$only_ours" --log-level debug
  wait_for 90 "agent ready" agent_ready || die "agent not ready: $(tail -5 "$AGENT_LOG")"
}

traffic() { # LABEL: pod->pod and pod->host TCP (iperf3) and ICMP (ping), then quiet
  pod_exec "$NS" "$CLIENT" iperf3 -c "$SIP" -t 3 -J >"$E2E_TMP/iperf3-$1-pod.json"
  pod_exec "$NS" "$CLIENT" iperf3 -c "$E2E_GATEWAY" -t 2 -J >"$E2E_TMP/iperf3-$1-host.json"
  pod_exec "$NS" "$CLIENT" ping -q -c 20 -i 0.05 -s 1200 "$SIP" >/dev/null
  pod_exec "$NS" "$CLIENT" ping -q -c 10 -i 0.05 "$E2E_GATEWAY" >/dev/null
  pod_exec "$NS" "$EPHEMERAL" ping -q -c 10 -i 0.05 "$SIP" >/dev/null
  sleep 1 # the last replies and FIN/ACKs
}

# A fresh scrape after now, so the TSDB has the counters' current values.
fresh_scrape() {
  local t
  t="$(date +%s.%N)"
  wait_for 30 "a scrape after $t" prom_scraped_since "$t"
}

# The agent publishes flows periodically: wait until its flow counters stop moving.
settled() {
  local a b
  a="$(prom_value 'sum(netring_flow_bytes_total)')"
  sleep 3
  fresh_scrape
  b="$(prom_value 'sum(netring_flow_bytes_total)')"
  [ -n "$a" ] && [ "$a" = "$b" ]
}

int() { python3 -c "print(int(round(float('${1:-nan}'))))" 2>/dev/null || echo "none"; }

# conntrack entries of the client pod for one peer: sums of orig/reply bytes.
ct_sum() { # PEER_IP FIELD
  jq -s --arg ip "$1" --arg f "$2" '[.[] | select(.dst == $ip) | .[$f]] | add // 0' "$E2E_TMP/ct-$phase.jsonl"
}

# --- phase 1: every skb sampled --------------------------------------------
phase=rate1
links_before="$(agent_links | sort)"
start_agent 1 pod
prom_start "$AGENT_METRICS"
wait_for 60 "first scrape" prom_target_up || die "prometheus never scraped the agent"
wait_for 60 "pods synced from the API" \
  test "$(prom_value 'netring_kubernetes_watch_synced{resource="pods"}')" = 1 || fail "pod watch never synced"

fresh_scrape
declare -A sys0=()
for v in "${VETHS[@]}"; do
  for d in rx tx; do
    sys0[$v/$d/bytes]=$(cat "/sys/class/net/$v/statistics/${d}_bytes")
    sys0[$v/$d/packets]=$(cat "/sys/class/net/$v/statistics/${d}_packets")
  done
done
declare -A agent0=()
for v in "${VETHS[@]}"; do
  for d in rx tx; do
    agent0[$v/$d/bytes]=$(prom_value "sum(netring_interface_bytes_total{interface=\"$v\",direction=\"$d\"})")
    agent0[$v/$d/packets]=$(prom_value "sum(netring_interface_packets_total{interface=\"$v\",direction=\"$d\"})")
  done
done

pod_exec "$NS" "$CLIENT" conntrack -F 2>/dev/null || true
traffic "$phase"
conntrack_dump "${POD_NETNS[$NS/$CLIENT]}" >"$E2E_TMP/ct-$phase.jsonl"
wait_for 90 "flow counters settled" settled || fail "flow counters kept moving"

# 1. nothing lost, or exactness means nothing
lost="$(prom_value 'sum(netring_samples_lost_total)')"
received="$(prom_value 'sum(netring_samples_received_total)')"
if [ -z "$lost" ] || [ -z "$received" ]; then
  fail "loss/received counters missing from Prometheus (lost='$lost' received='$received')"
elif [ "$(int "$lost")" != 0 ]; then
  fail "samples lost at rate 1: $lost (by stage: $(promql 'netring_samples_lost_total > 0' | jq -c '[.data.result[] | {m: .metric, v: .value[1]}]'))"
else
  pass "no sample lost ($received received)"
fi

# 2. per-workload (pod level) L3 bytes from PromQL == conntrack, both directions
pair() { # SRC_POD DST_POD METRIC
  int "$(prom_value "sum(${3:-netring_flow_bytes_total}{src_namespace=\"$NS\",src_pod=\"$1\",dst_namespace=\"$NS\",dst_pod=\"$2\"})")"
}
ct_out=$(ct_sum "$SIP" orig_bytes) ct_back=$(ct_sum "$SIP" reply_bytes)
pq_out=$(pair "$CLIENT" "$SERVER") pq_back=$(pair "$SERVER" "$CLIENT")
log "rate 1, $CLIENT -> $SERVER: PromQL $pq_out bytes, conntrack $ct_out bytes"
log "rate 1, $SERVER -> $CLIENT: PromQL $pq_back bytes, conntrack $ct_back bytes"
[ "$pq_out" = "$ct_out" ] && [ "$ct_out" -gt 1000000 ] && pass "client->server bytes exact" ||
  fail "client->server: PromQL $pq_out != conntrack $ct_out"
[ "$pq_back" = "$ct_back" ] && pass "server->client bytes exact" || fail "server->client: PromQL $pq_back != conntrack $ct_back"
ctp_out=$(ct_sum "$SIP" orig_packets) ctp_back=$(ct_sum "$SIP" reply_packets)
pp_out=$(pair "$CLIENT" "$SERVER" netring_flow_packets_total) pp_back=$(pair "$SERVER" "$CLIENT" netring_flow_packets_total)
log "rate 1 packets (skbs): PromQL $pp_out/$pp_back, conntrack $ctp_out/$ctp_back"
[ "$pp_out" = "$ctp_out" ] && [ "$pp_back" = "$ctp_back" ] && pass "packets (skbs) exact both ways" ||
  fail "packets: PromQL $pp_out/$pp_back != conntrack $ctp_out/$ctp_back"

# 3. the flow API answers the same, connection by connection (pod->host included)
api_get "/api/v1/flows?from_pod=$NS/$CLIENT&limit=10000" >"$E2E_TMP/flows-from-client.json" || fail "flow API"
api_get "/api/v1/flows?to_pod=$NS/$CLIENT&limit=10000" >"$E2E_TMP/flows-to-client.json" || fail "flow API"
python3 "$LIB/flow_compare.py" "$E2E_TMP/ct-$phase.jsonl" "$E2E_TMP/flows-from-client.json" "$E2E_TMP/flows-to-client.json" exact \
  >"$E2E_TMP/flow-compare-$phase.txt" 2>&1 && pass "flow API == conntrack for every connection" ||
  fail "flow API vs conntrack: $(cat "$E2E_TMP/flow-compare-$phase.txt")"
cat "$E2E_TMP/flow-compare-$phase.txt" >&2 || true

# 4. interface totals vs /sys/class/net (deltas over the traffic).
# Bytes: both count skb->len per skb (Ethernet header included), a GSO
# super-packet once with its full length: equal exactly.
# Packets: the kernel counts one per skb; netring_interface_packets_total
# counts wire segments (gso_segs of a GSO skb, as the packets a NIC would
# send), so it equals the kernel's figure only without GSO and is at least it
# otherwise: asserted as such, both figures printed.
fresh_scrape
for v in "${VETHS[@]}"; do
  for d in rx tx; do
    for k in bytes packets; do
      sys=$(($(cat "/sys/class/net/$v/statistics/${d}_$k") - sys0[$v/$d/$k]))
      ag=$(int "$(python3 -c "print(float('$(prom_value "sum(netring_interface_${k}_total{interface=\"$v\",direction=\"$d\"})")') - float('${agent0[$v/$d/$k]:-nan}'))")")
      log "interface $v $d $k: netring $ag, /sys/class/net $sys"
      if [ "$k" = bytes ]; then
        [ "$ag" = "$sys" ] || fail "interface $v $d bytes: netring_interface_bytes_total delta $ag != sysfs ${d}_bytes delta $sys"
      else
        [ "$ag" != none ] && [ "$ag" -ge "$sys" ] ||
          fail "interface $v $d packets: netring_interface_packets_total delta $ag < sysfs ${d}_packets delta $sys"
      fi
    done
  done
done
# The ephemeral pod only pings (no GSO): there packets must agree exactly too.
v=${POD_HOSTVETH[$NS/$EPHEMERAL]}
for d in rx tx; do
  sys=$(($(cat "/sys/class/net/$v/statistics/${d}_packets") - sys0[$v/$d/packets]))
  ag=$(int "$(python3 -c "print(float('$(prom_value "sum(netring_interface_packets_total{interface=\"$v\",direction=\"$d\"})")') - float('${agent0[$v/$d/packets]:-nan}'))")")
  [ "$ag" = "$sys" ] && pass "interface $v $d packets exact without GSO ($ag)" || fail "interface $v $d packets (no GSO): $ag != $sys"
done

# 5. a pcap from the capture API opens in tshark
(sleep 1; pod_exec "$NS" "$CLIENT" ping -q -c 10 -i 0.1 "$SIP" >/dev/null) &
pinger=$!
curl -sf -o "$E2E_TMP/capture.pcap" "http://$AGENT_API/api/v1/capture?filter=icmp&duration=4s" || fail "capture API"
wait "$pinger" || true
n=$(tshark -r "$E2E_TMP/capture.pcap" -Y icmp 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && pass "capture: tshark reads $n ICMP packets" || fail "capture: tshark read no ICMP packet"

# 6. pod deletion removes its series after the grace period
before=$(prom_count "netring_flow_bytes_total{src_pod=\"$EPHEMERAL\"} or netring_flow_bytes_total{dst_pod=\"$EPHEMERAL\"}")
[ "$before" -gt 0 ] || fail "no series for $EPHEMERAL before its deletion"
kube_forget "$NS" "$EPHEMERAL"
kube_sync
pod_del "$NS" "$EPHEMERAL"
gone() {
  fresh_scrape && [ "$(prom_count "netring_flow_bytes_total{src_pod=\"$EPHEMERAL\"} or netring_flow_bytes_total{dst_pod=\"$EPHEMERAL\"}")" = 0 ]
}
wait_for 90 "series of $EPHEMERAL removed" gone && pass "$EPHEMERAL's $before series removed after the grace period" ||
  fail "series of deleted pod $EPHEMERAL still exported"
[ "$(int "$(prom_value 'sum(netring_flow_series_removed_total)')")" -gt 0 ] 2>/dev/null ||
  fail "netring_flow_series_removed_total did not count the removal"

# 7. SIGTERM leaves no hooks
check_no_hooks() {
  # The links this agent holds, by pid: another agent or test on the same
  # host (a developer's machine) may attach links of the same programs
  # meanwhile, which the before/after comparison below would blame on us.
  local own
  own="$(links_of_pid "$AGENT_PID" | tr '\n' ' ')"
  log "BPF links held by the agent: ${own:-none found in /proc/$AGENT_PID/fdinfo}"
  agent_stop && pass "agent exited 0 on SIGTERM" || fail "agent exit status on SIGTERM was not 0"
  local v left
  for v in "${POD_HOSTVETH[$NS/$CLIENT]}" "${POD_HOSTVETH[$NS/$SERVER]}"; do
    left="$(hooks_on "$v")"
    [ -z "$left" ] || fail "hooks left on $v after SIGTERM: $left"
  done
  ip link show nr-mirror0 >/dev/null 2>&1 && fail "mirror link nr-mirror0 left after SIGTERM"
  # A link's last reference can go after the process is reaped (deferred
  # release): poll a while before calling one left behind.
  if [ -n "${own// /}" ]; then
    # shellcheck disable=SC2086 # one id per word
    new_links() { links_exist $own | tr '\n' ' '; }
  else  # bpftool could not name the holder: links new since the agent started
    new_links() { comm -13 <(echo "$links_before") <(agent_links | sort) | tr '\n' ' '; }
  fi
  no_new_links() { [ -z "$(new_links | tr -d ' ')" ]; }
  wait_for 20 "the agent's BPF links released" no_new_links ||
    fail "BPF links of the agent's programs left after SIGTERM: $(new_links)"
}
check_no_hooks
pass "phase rate 1 done"

# --- phase 2: 1 in 100 ------------------------------------------------------
phase=rate100
links_before="$(agent_links | sort)"
start_agent 100 workload
new_target_up() { fresh_scrape && prom_target_up; }
wait_for 60 "scrape of the new agent" new_target_up || fail "prometheus lost the agent"
pod_exec "$NS" "$CLIENT" conntrack -F 2>/dev/null || true
pod_exec "$NS" "$CLIENT" iperf3 -c "$SIP" -t 4 -J >"$E2E_TMP/iperf3-$phase.json"
sleep 1
conntrack_dump "${POD_NETNS[$NS/$CLIENT]}" >"$E2E_TMP/ct-$phase.jsonl"
wait_for 90 "flow counters settled" settled || fail "flow counters kept moving"
lost="$(int "$(prom_value 'sum(netring_samples_lost_total)')")"
log "rate 100: samples lost $lost"
api_get "/api/v1/flows?from_pod=$NS/$CLIENT&limit=10000" >"$E2E_TMP/flows-from-client.json" || fail "flow API"
api_get "/api/v1/flows?to_pod=$NS/$CLIENT&limit=10000" >"$E2E_TMP/flows-to-client.json" || fail "flow API"
python3 "$LIB/flow_compare.py" "$E2E_TMP/ct-$phase.jsonl" "$E2E_TMP/flows-from-client.json" "$E2E_TMP/flows-to-client.json" interval \
  >"$E2E_TMP/flow-compare-$phase.txt" 2>&1 && pass "1:100: conntrack inside the reported 99% interval" ||
  fail "1:100 vs conntrack: $(cat "$E2E_TMP/flow-compare-$phase.txt")"
cat "$E2E_TMP/flow-compare-$phase.txt" >&2 || true

# names from the API's watch: ReplicaSet pods are their Deployment's workload
w=$(prom_count "netring_flow_bytes_total{src_namespace=\"$NS\",src_workload=\"client\",dst_workload=\"server\"}")
[ "$w" -gt 0 ] && pass "workload names from the API (client -> server)" ||
  fail "no series with src_workload=client, dst_workload=server: $(promql 'netring_flow_bytes_total' | jq -c '[.data.result[].metric]')"

# kernel events (after the conntrack comparisons, on a port of their own):
# UDP to a closed port of the server (drops with reason NO_SOCKET, as many
# as the server's Udp NoPorts counts), and a transfer with 2% loss at the
# server's input (iptables' statistic match; this kernel has no netem) that
# makes the client retransmit.
snmp_of() { # POD PROTO FIELD
  pod_exec "$NS" "$1" awk -v p="$2:" -v f="$3" \
    '$1 == p && !h {for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next}
     $1 == p && h {for (i = 2; i <= NF; i++) if (n[i] == f) print $i}' /proc/net/snmp
}
noports0=$(snmp_of "$SERVER" Udp NoPorts)
pod_exec "$NS" "$CLIENT" /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(20): s.sendto(b'x' * 64, ('$SIP', 7))"
noports=$(($(snmp_of "$SERVER" Udp NoPorts) - noports0))
pod_exec "$NS" "$SERVER" iperf3 -s -D -p 5202 -B "$SIP" --pidfile "$E2E_TMP/iperf3-lossy.pid" --logfile "$E2E_TMP/iperf3-lossy.log"
on_exit "kill \$(cat $E2E_TMP/iperf3-lossy.pid)"
pod_exec "$NS" "$SERVER" iptables -A INPUT -p tcp --dport 5202 -m statistic --mode random --probability 0.02 -j DROP
for _ in $(seq 1 30); do
  pod_exec "$NS" "$CLIENT" iperf3 -c "$SIP" -p 5202 -t 2 -b 50M >/dev/null 2>&1 && break
  sleep 0.5
done
no_socket_in_prom() {
  fresh_scrape && [ "$(int "$(prom_value "sum(netring_drops_total{reason=\"NO_SOCKET\",src_workload=\"client\",dst_workload=\"server\"})")")" = "$noports" ]
}
wait_for 60 "NO_SOCKET drops in Prometheus" no_socket_in_prom &&
  pass "PromQL: $noports NO_SOCKET drops client -> server = the server's Udp NoPorts" ||
  fail "NO_SOCKET drops: PromQL $(prom_value 'sum(netring_drops_total{reason="NO_SOCKET",src_workload="client"})'), Udp NoPorts $noports"
retrans_in_prom() {
  fresh_scrape && [ "$(int "$(prom_value 'sum(netring_tcp_retransmits_total{src_workload="client",dst_workload="server"})')")" -gt 0 ]
}
wait_for 60 "TCP retransmits in Prometheus" retrans_in_prom && pass "PromQL: TCP retransmits client -> server" ||
  fail "no netring_tcp_retransmits_total for client -> server"
fresh_scrape
# DNS and TCP connection set-up for the dashboard's panels: answers from
# dnsmasq (NOERROR, NXDOMAIN), a query nobody answers (the server pod drops
# queries from one client port: a timeout after --dns-timeout), a
# connection to a closed port (reset by the server).
for i in 1 2 3; do pod_exec "$NS" "$CLIENT" dig +tries=1 +time=1 @"$SIP" exists.test >/dev/null || true; done
pod_exec "$NS" "$CLIENT" dig +tries=1 +time=1 @"$SIP" missing.test >/dev/null || true
pod_exec "$NS" "$SERVER" iptables -A INPUT -p udp --sport 5553 --dport 53 -j DROP
pod_exec "$NS" "$CLIENT" dig +tries=1 +time=1 -b "$CIP#5553" @"$SIP" exists.test >/dev/null || true
pod_exec "$NS" "$CLIENT" curl -s -m 2 -o /dev/null "http://$SIP:9/" || true
dns_timeout_seen() { [ "$(prom_count 'netring_dns_timeouts_total')" -gt 0 ]; }
wait_for 30 "the unanswered DNS query counted as a timeout" dns_timeout_seen || fail "no DNS timeout in Prometheus"
sleep 3  # a few scrapes of every new series, for rate()

# every panel of the Grafana dashboard returns data, with the labels it groups by
# (at the default --label-level=workload the dashboard is made for)
python3 "$LIB/dashboard_check.py" "$E2E_SRC/charts/netring/dashboards/netring.json" "$PROM_URL" \
  >"$E2E_TMP/dashboard.txt" 2>&1 && pass "every dashboard panel returns data" || fail "dashboard panels"
cat "$E2E_TMP/dashboard.txt" >&2

check_no_hooks

[ "$E2E_FAILED" = 0 ] || die "some checks failed (see above)"
log "all checks passed"
