#!/usr/bin/env bash
# Pods in network namespaces, made with the real CNI plugins exactly as a
# container runtime calls them (bridge + host-local IPAM; the network config
# on stdin, CNI_* in the environment), and a PodList JSON describing them as
# `kubectl get pods -A -o json` prints it, for the agent's --pods-from.
#
# Source it, then:
#   pods_init STATE_DIR [BRIDGE] [SUBNET] [NODE_NETNS]
#                                           a network (defaults nr-demo0, 10.244.77.0/24); with NODE_NETNS
#                                           the bridge and the pods' host-side veths live in that namespace
#                                           (created here): a node of its own, apart from the host's links
#   node_exec CMD...                        runs CMD in the node namespace (or here without one)
#   pod_add KEY NAMESPACE DEPLOYMENT        a pod of that Deployment (via a ReplicaSet); KEY is a short handle
#   pod_ip KEY / pod_name KEY / pod_netns KEY / pod_veth KEY   its IP, pod name, netns name, host-side veth
#   pod_exec KEY CMD...                     runs CMD in the pod's namespace
#   pod_del KEY                             CNI DEL, then removes the namespace
#   pods_write_podlist FILE [NODE]          the PodList of every pod added (nodeName defaults to hostname)
#   pods_teardown                           every pod deleted, the bridge and the IPAM state removed
# Everything lives under STATE_DIR and names start with the bridge's name, so
# two networks (different bridges and subnets) do not collide.

PODS_CNI_BIN=${PODS_CNI_BIN:-/usr/lib/cni}

pods_init() {
  PODS_STATE=$1
  PODS_BRIDGE=${2:-nr-demo0}
  PODS_SUBNET=${3:-10.244.77.0/24}
  PODS_NODE_NS=${4:-}
  PODS_NET=${PODS_BRIDGE}-net
  mkdir -p "$PODS_STATE/pods" "$PODS_STATE/ipam"
  if [ -n "$PODS_NODE_NS" ]; then
    ip netns add "$PODS_NODE_NS"
    ip -n "$PODS_NODE_NS" link set lo up
    echo "$PODS_NODE_NS" >"$PODS_STATE/node-netns"
  fi
  cat >"$PODS_STATE/net.conf" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$PODS_NET",
  "type": "bridge",
  "bridge": "$PODS_BRIDGE",
  "isGateway": true,
  "ipMasq": false,
  "hairpinMode": false,
  "ipam": {
    "type": "host-local",
    "ranges": [[{"subnet": "$PODS_SUBNET"}]],
    "dataDir": "$PODS_STATE/ipam"
  }
}
JSON
}

node_exec() {
  if [ -n "${PODS_NODE_NS:-}" ]; then ip netns exec "$PODS_NODE_NS" "$@"; else "$@"; fi
}

_pods_rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
_pods_rand_name() {  # like the suffixes Kubernetes generates
  local chars=bcdfghjklmnpqrstvwxz2456789 out="" i
  for ((i = 0; i < $1; i++)); do out+=${chars:RANDOM%${#chars}:1}; done
  printf '%s' "$out"
}
_pods_uuid() {
  local h
  h=$(_pods_rand_hex 16)
  printf '%s-%s-4%s-a%s-%s' "${h:0:8}" "${h:8:4}" "${h:13:3}" "${h:17:3}" "${h:20:12}"
}

# CNI COMMAND KEY: the plugin with the runtime's environment, config on stdin.
_pods_cni() {
  local cmd=$1 key=$2
  # shellcheck disable=SC1090
  . "$PODS_STATE/pods/$key"
  CNI_COMMAND=$cmd CNI_CONTAINERID=$cid CNI_NETNS=/var/run/netns/$netns CNI_IFNAME=eth0 CNI_PATH=$PODS_CNI_BIN \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$namespace;K8S_POD_NAME=$name;K8S_POD_INFRA_CONTAINER_ID=$cid" \
    node_exec "$PODS_CNI_BIN/bridge" <"$PODS_STATE/net.conf"
}

pod_add() {
  local key=$1 namespace=$2 deployment=$3
  local rs_hash suffix name netns cid out ip veth
  # One ReplicaSet per Deployment, as a Deployment controller would name it.
  if [ -f "$PODS_STATE/rs-$deployment" ]; then rs_hash=$(cat "$PODS_STATE/rs-$deployment"); else
    rs_hash=$(_pods_rand_name 10)
    echo "$rs_hash" >"$PODS_STATE/rs-$deployment"
  fi
  suffix=$(_pods_rand_name 5)
  name=$deployment-$rs_hash-$suffix
  netns=$PODS_BRIDGE-$key
  cid=$(_pods_rand_hex 32)
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  cat >"$PODS_STATE/pods/$key" <<VARS
key=$key
namespace=$namespace
deployment=$deployment
replicaset=$deployment-$rs_hash
name=$name
netns=$netns
cid=$cid
uid=$(_pods_uuid)
rs_uid=$(_pods_uuid)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
VARS
  out=$(_pods_cni ADD "$key") || { echo "pod_add $key: CNI ADD failed: $out" >&2; return 1; }
  ip=$(printf '%s' "$out" | jq -r '.ips[0].address' | cut -d/ -f1)
  # The host side of the pod's eth0: the bridge port whose peer is in the netns.
  local peer_index
  peer_index=$(ip -n "$netns" -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\).*/\1/p')
  veth=$(node_exec ip -o link show | awk -F': ' -v i="$peer_index" '$1 == i {print $2}' | cut -d@ -f1)
  printf 'ip=%s\nveth=%s\n' "$ip" "$veth" >>"$PODS_STATE/pods/$key"
}

_pods_get() { (. "$PODS_STATE/pods/$1" && eval "printf '%s' \"\$$2\""); }
pod_ip() { _pods_get "$1" ip; }
pod_name() { _pods_get "$1" name; }
pod_netns() { _pods_get "$1" netns; }
pod_veth() { _pods_get "$1" veth; }
pod_exec() {
  local key=$1
  shift
  ip netns exec "$(pod_netns "$key")" "$@"
}

pod_del() {
  local key=$1 netns
  [ -f "$PODS_STATE/pods/$key" ] || return 0
  netns=$(pod_netns "$key")
  # Whatever still runs in the pod (servers, clients) goes with it.
  ip netns pids "$netns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  _pods_cni DEL "$key" >/dev/null || echo "pod_del $key: CNI DEL failed" >&2
  ip netns del "$netns" 2>/dev/null || true
  rm -f "$PODS_STATE/pods/$key"
}

pods_write_podlist() {
  local file=$1 node=${2:-$(hostname)} host_ip f
  host_ip=$(node_exec ip -o -4 addr show dev "$PODS_BRIDGE" | awk '{print $4}' | cut -d/ -f1 | head -n1)
  {
    for f in "$PODS_STATE"/pods/*; do
      [ -f "$f" ] || continue
      (
        . "$f"
        jq -n --arg ns "$namespace" --arg name "$name" --arg uid "$uid" --arg rs "$replicaset" --arg rsuid "$rs_uid" \
          --arg app "$deployment" --arg hash "${replicaset##*-}" --arg node "$node" --arg ip "$ip" \
          --arg hostip "$host_ip" --arg created "$created" --arg cid "$cid" '{
          apiVersion: "v1", kind: "Pod",
          metadata: {
            name: $name, namespace: $ns, uid: $uid, creationTimestamp: $created, generateName: ($rs + "-"),
            labels: {app: $app, "pod-template-hash": $hash},
            ownerReferences: [{apiVersion: "apps/v1", kind: "ReplicaSet", name: $rs, uid: $rsuid,
                               controller: true, blockOwnerDeletion: true}]
          },
          spec: {
            nodeName: $node, restartPolicy: "Always", serviceAccountName: "default",
            containers: [{name: $app, image: "registry.k8s.io/e2e-test-images/agnhost:2.47",
                          ports: [{containerPort: 5201, protocol: "TCP"}]}]
          },
          status: {
            phase: "Running", hostIP: $hostip, hostIPs: [{ip: $hostip}], podIP: $ip, podIPs: [{ip: $ip}],
            startTime: $created, qosClass: "BestEffort",
            conditions: [{type: "Ready", status: "True"}],
            containerStatuses: [{name: $app, ready: true, restartCount: 0, started: true,
                                 containerID: ("containerd://" + $cid), state: {running: {startedAt: $created}}}]
          }
        }'
      )
    done
  } | jq -s '{apiVersion: "v1", kind: "List", metadata: {resourceVersion: ""}, items: .}' >"$file.tmp"
  mv "$file.tmp" "$file"
}

pods_teardown() {
  [ -n "${PODS_STATE:-}" ] || return 0
  local f
  for f in "$PODS_STATE"/pods/*; do
    [ -f "$f" ] && pod_del "$(basename "$f")"
  done
  node_exec ip link del "$PODS_BRIDGE" 2>/dev/null || true
  rm -rf "$PODS_STATE/ipam"
  if [ -f "$PODS_STATE/node-netns" ]; then
    ip netns del "$(cat "$PODS_STATE/node-netns")" 2>/dev/null || true
    rm -f "$PODS_STATE/node-netns"
  fi
}
