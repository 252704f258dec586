# Nodes for scenarios with more than one agent. Each node is a network
# namespace with its own CNI bridge and pods (scripts/lib/pods.sh: the real
# bridge + host-local plugins, Deployment-named pods, a PodList for
# --pods-from), its own netring-agent listening on 127.0.0.1:9990/9991
# inside it, and its API forwarded to a free port on the host's loopback by
# socat, the way `kubectl port-forward` forwards an agent's port to a user's
# machine. Needs common.sh.
#
#   node_add NAME SUBNET        a node (becomes the current one for pod_add & co.)
#   node_use NAME               makes NAME current (pods.sh keeps one network's state in globals)
#   node_pod KEY NS DEPLOYMENT  pod_add on the current node, IPv6 off in the pod (no stray
#                               router solicitations among the flows a test compares)
#   node_agent_start NAME [FLAGS...]   the agent from the build in NAME, rate 1, pod names
#                               from the node's PodList; waits until ready; NODE_API[NAME]
#                               is the forwarded host:port
#   node_exec_in NAME CMD...    runs CMD in NAME's namespace
# Teardown (agents, forwards, pods, bridges, namespaces) is registered with on_exit.

# shellcheck source=../../scripts/lib/pods.sh
source "$E2E_SRC/scripts/lib/pods.sh"

declare -gA NODE_NS=() NODE_STATE=() NODE_BRIDGE=() NODE_SUBNET=() NODE_API=() NODE_AGENT_PID=() NODE_FWD_PID=()
declare -gA NODE_LOG=()
_node_seq=0

node_use() {
  local n=$1
  PODS_STATE=${NODE_STATE[$n]}
  PODS_BRIDGE=${NODE_BRIDGE[$n]}
  PODS_SUBNET=${NODE_SUBNET[$n]}
  PODS_NODE_NS=${NODE_NS[$n]}
  PODS_NET=${PODS_BRIDGE}-net
}

node_add() {
  local n=$1 subnet=$2
  _node_seq=$((_node_seq + 1))
  NODE_NS[$n]="nre2e-$$-$n"
  NODE_BRIDGE[$n]="nrn$$$_node_seq"
  NODE_SUBNET[$n]=$subnet
  NODE_STATE[$n]="$E2E_TMP/node-$n"
  on_exit "node_use $n; pods_teardown"
  pods_init "${NODE_STATE[$n]}" "${NODE_BRIDGE[$n]}" "$subnet" "${NODE_NS[$n]}"
  ip netns exec "${NODE_NS[$n]}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "${NODE_NS[$n]}" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  node_use "$n"
}

node_pod() {
  pod_add "$@" || die "pod_add $*"
  pod_exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  pod_exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
}

node_exec_in() {
  local n=$1
  shift
  ip netns exec "${NODE_NS[$n]}" "$@"
}

node_agent_start() {
  local n=$1
  shift
  node_use "$n"
  pods_write_podlist "${NODE_STATE[$n]}/pods.json" "$n"
  NODE_LOG[$n]="$E2E_TMP/agent-$n.log"
  # `ip netns exec` itself (it execs the agent): $! is then the agent's pid,
  # where a backgrounded shell function would give a subshell's.
  ip netns exec "${NODE_NS[$n]}" "$E2E_BUILD/netring-agent" --node-name="$n" --pods-from="${NODE_STATE[$n]}/pods.json" \
    --kube-api=off --label-level=pod --sample-rate=1 --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991 \
    "$@" >"${NODE_LOG[$n]}" 2>&1 &
  NODE_AGENT_PID[$n]=$!
  on_exit "_node_agent_stop $n"
  wait_for 90 "agent on $n ready" node_exec_in "$n" curl -sf http://127.0.0.1:9990/readyz ||
    die "agent on $n not ready: $(tail -5 "${NODE_LOG[$n]}")"
  # kubectl port-forward's job: a local port whose connections reach the
  # agent's loopback listener inside the node. Two socats meet at a Unix
  # socket (a file, visible from both namespaces): one inside the node,
  # one on the host's loopback.
  local port sock="$E2E_TMP/api-$n.sock"
  port=$(free_port)
  ip netns exec "${NODE_NS[$n]}" socat "UNIX-LISTEN:$sock,fork" TCP:127.0.0.1:9991 2>>"$E2E_TMP/socat-$n.log" &
  NODE_FWD_PID[$n]=$!
  on_exit "kill ${NODE_FWD_PID[$n]}; wait ${NODE_FWD_PID[$n]}"
  wait_for 10 "forwarding socket of $n" test -S "$sock" || die "socat in $n did not listen"
  socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$sock" 2>>"$E2E_TMP/socat-$n.log" &
  on_exit "kill $!; wait $!"
  NODE_API[$n]="127.0.0.1:$port"
  wait_for 30 "agent on $n forwarded at ${NODE_API[$n]}" curl -sf "http://${NODE_API[$n]}/healthz" ||
    die "forward to $n's API does not answer"
  log "node $n: agent pid ${NODE_AGENT_PID[$n]}, API forwarded at ${NODE_API[$n]}"
}

_node_agent_stop() {
  local n=$1 pid=${NODE_AGENT_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  local i
  for i in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  NODE_AGENT_PID[$n]=""
}
