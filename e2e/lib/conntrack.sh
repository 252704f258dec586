# conntrack as per-connection ground truth: nf_conntrack_acct=1 makes it count
# L3 bytes (IP header included) and skbs per direction, one per skb (a GSO
# super-packet is one packet of skb->len); it only tracks once a rule needs
# it, so a rule that matches on ctstate is added. Needs common.sh.

# conntrack_enable NETNS: conntrack accounting in a pod's network namespace.
# Both the sysctl and the conntrack table are per network namespace, and
# bridged pod-to-pod frames never pass the host's iptables (no br_netfilter,
# which would change every bridge on the node), so the ground truth is taken
# where the connections start: the client pod's own netns, at LOCAL_OUT for
# what it sends and PRE_ROUTING for what it receives. The namespace goes away
# with the pod, and the rules with it.
conntrack_enable() {
  local netns=$1 chain
  ip netns exec "$netns" sysctl -qw net.netfilter.nf_conntrack_acct=1
  for chain in INPUT OUTPUT; do
    ip netns exec "$netns" iptables -A "$chain" -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT
  done
}

# conntrack_dump NETNS|-: `conntrack -L -o extended` as JSON lines
# {"proto","src","dst","sport","dport","orig_bytes","orig_packets","reply_bytes","reply_packets"}.
conntrack_dump() {
  local where=$1
  local cmd=(conntrack -L -o extended)
  [ "$where" = - ] || cmd=(ip netns exec "$where" conntrack -L -o extended)
  "${cmd[@]}" 2>/dev/null | python3 -c '
import json, re, sys
for line in sys.stdin:
    f = line.split()
    if len(f) < 4: continue
    proto = f[2]
    kv = [tuple(x.split("=", 1)) for x in f if "=" in x]
    src = [v for k, v in kv if k == "src"]; dst = [v for k, v in kv if k == "dst"]
    sp = [v for k, v in kv if k == "sport"]; dp = [v for k, v in kv if k == "dport"]
    by = [int(v) for k, v in kv if k == "bytes"]; pk = [int(v) for k, v in kv if k == "packets"]
    if len(by) < 2 or not src: continue
    print(json.dumps({"proto": proto, "src": src[0], "dst": dst[0],
        "sport": sp[0] if sp else "", "dport": dp[0] if dp else "",
        "orig_bytes": by[0], "orig_packets": pk[0], "reply_bytes": by[1], "reply_packets": pk[1]}))
'
}
