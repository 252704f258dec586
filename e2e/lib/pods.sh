# Pods made with the real CNI bridge + host-local plugins, called exactly as
# a container runtime calls them: the network config on stdin and
# CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH and CNI_ARGS
# (with K8S_POD_NAMESPACE / K8S_POD_NAME, as the kubelet's CRI passes them).
# Needs common.sh.

CNI_BIN="${CNI_BIN:-/usr/lib/cni}"
E2E_BRIDGE="${E2E_BRIDGE:-nre2e0}"
E2E_SUBNET="${E2E_SUBNET:-10.213.0.0/24}"
E2E_GATEWAY="${E2E_GATEWAY:-10.213.0.1}"
declare -gA POD_IP=() POD_NETNS=() POD_HOSTVETH=() POD_CID=()

_cni_conf() {
  cat <<JSON
{"cniVersion": "1.0.0", "name": "netring-e2e", "type": "bridge", "bridge": "$E2E_BRIDGE",
 "isGateway": true, "ipMasq": false, "hairpinMode": false,
 "ipam": {"type": "host-local", "dataDir": "$E2E_TMP/cni-ipam",
          "ranges": [[{"subnet": "$E2E_SUBNET", "gateway": "$E2E_GATEWAY"}]],
          "routes": [{"dst": "0.0.0.0/0"}]}}
JSON
}

_cni() { # COMMAND NS NAME
  local cmd=$1 ns=$2 name=$3 key="$2/$3"
  _cni_conf | env CNI_COMMAND="$cmd" CNI_CONTAINERID="${POD_CID[$key]}" \
    CNI_NETNS="/var/run/netns/${POD_NETNS[$key]}" CNI_IFNAME=eth0 CNI_PATH="$CNI_BIN" \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_INFRA_CONTAINER_ID=${POD_CID[$key]}" \
    "$CNI_BIN/bridge"
}

# pod_add NS NAME: a network namespace wired by CNI ADD; sets POD_IP[NS/NAME] and POD_HOSTVETH[NS/NAME].
pod_add() {
  local ns=$1 name=$2 key="$1/$2"
  local netns="nre2e-$$-${name}"
  POD_NETNS[$key]=$netns
  POD_CID[$key]="$(printf '%s' "$key-$$-$RANDOM" | sha256sum | cut -c1-64)"
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  on_exit "pod_del $ns $name"
  local out
  out="$(_cni ADD "$ns" "$name")" || die "CNI ADD $key failed: $out"
  printf '%s\n' "$out" >"$E2E_TMP/cni-$ns-$name.json"
  POD_IP[$key]="$(jq -r '.ips[0].address | split("/")[0]' <<<"$out")"
  # The host end is the interface in the result without a sandbox.
  POD_HOSTVETH[$key]="$(jq -r '.interfaces[] | select(.sandbox == null and .mac != null) | .name' <<<"$out" |
    grep -v "^$E2E_BRIDGE\$" | head -1)"
  # No IPv6 on either end: router solicitations and MLD reports would be
  # traffic nobody in the scenario asked for, and the counters compare exactly.
  pod_exec "$ns" "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
  sysctl -qw "net.ipv6.conf.${POD_HOSTVETH[$key]}.disable_ipv6=1" || true
  log "pod $key: ip ${POD_IP[$key]} host veth ${POD_HOSTVETH[$key]} netns $netns"
}

# pod_del NS NAME: CNI DEL, then the namespace (idempotent, as a runtime retries DEL).
pod_del() {
  local ns=$1 name=$2 key="$1/$2"
  [ -n "${POD_NETNS[$key]:-}" ] || return 0
  _cni DEL "$ns" "$name" >/dev/null 2>&1 || log "CNI DEL $key failed"
  ip netns del "${POD_NETNS[$key]}" 2>/dev/null || true
  unset "POD_NETNS[$key]"
}

# pod_exec NS NAME CMD...: runs CMD inside the pod's network namespace.
pod_exec() {
  local key="$1/$2"
  shift 2
  ip netns exec "${POD_NETNS[$key]}" "$@"
}

# The bridge itself is left by the plugin: remove it at teardown.
pods_bridge_cleanup() { on_exit "ip link del $E2E_BRIDGE"; }
