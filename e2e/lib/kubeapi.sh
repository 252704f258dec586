# The FAKE Kubernetes API server (build/tests/fake-kube-apiserver: no real
# API server can run on these machines), serving the pods the scenario made,
# so the agent gets names over list+watch. Needs common.sh.

KUBE_OBJECTS="$E2E_TMP/kube-objects.json"
KUBECONFIG_FILE="$E2E_TMP/kubeconfig"
KUBE_PID=""
declare -ga KUBE_PODS=()  # JSON objects, one per pod

# kube_pod NS NAME IP [OWNER_KIND OWNER_NAME [TEMPLATE_HASH]]: add a pod to the desired state.
kube_pod() {
  KUBE_PODS+=("$(jq -nc --arg ns "$1" --arg n "$2" --arg ip "$3" --arg ok "${4:-}" --arg on "${5:-}" \
    --arg th "${6:-}" --arg node "$(hostname)" \
    '{namespace:$ns, name:$n, ip:$ip, owner_kind:$ok, owner_name:$on, template_hash:$th, node:$node}')")
}

# kube_forget NS NAME: drop a pod from the desired state.
kube_forget() {
  local i keep=()
  for i in "${KUBE_PODS[@]}"; do
    [ "$(jq -r '.namespace + "/" + .name' <<<"$i")" = "$1/$2" ] || keep+=("$i")
  done
  KUBE_PODS=("${keep[@]}")
}

_kube_write() {
  printf '%s\n' "${KUBE_PODS[@]}" | jq -s '{pods: ., services: [], nodes: []}' >"$KUBE_OBJECTS.tmp"
  mv "$KUBE_OBJECTS.tmp" "$KUBE_OBJECTS"
}

kube_start() {
  _kube_write
  "$E2E_BUILD/tests/fake-kube-apiserver" --objects "$KUBE_OBJECTS" --kubeconfig-out "$KUBECONFIG_FILE" \
    >"$E2E_TMP/kubeapi.log" 2>&1 &
  KUBE_PID=$!
  on_exit "kill $KUBE_PID; wait $KUBE_PID"
  wait_for 30 "fake API server kubeconfig" test -s "$KUBECONFIG_FILE" || die "fake API server did not start"
  log "fake Kubernetes API: $(tail -1 "$E2E_TMP/kubeapi.log")"
}

# kube_sync: the fake server turns the new desired state into watch events.
kube_sync() {
  _kube_write
  kill -HUP "$KUBE_PID"
}
