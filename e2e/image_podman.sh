#!/usr/bin/env bash
# The agent as shipped: the image built from the Dockerfile (scripts/image.sh,
# on the base image scripts/base-image.sh bootstraps), run with podman in the
# host's network namespace on pods made by the real CNI plugins.
#
# 1. --privileged: samples arrive (the flow API shows the pods' flows), and
#    the image's netring command line shows them too.
# 2. The capability proof for the chart's list: --cap-drop=ALL plus exactly
#    BPF, NET_ADMIN, PERFMON, NET_RAW, IPC_LOCK (not --privileged): samples
#    arrive. Then each of the five removed in turn: the agent fails, or falls
#    back and reports it, with a message naming that capability.
#    RLIMIT_MEMLOCK is pinned to 8 MiB, the kernel's default and what a
#    kubelet's container gets unless its runtime raises it, so IPC_LOCK is
#    tested against the limit a cluster really imposes; the capability runs
#    use --workers 4 (one UMEM per worker): measured, one worker's UMEM fits
#    in 8 MiB and needs no IPC_LOCK, four do not.
#    seccomp: Kubernetes runs pods Unconfined unless a seccompProfile is set;
#    podman's default profile (Debian 12 containers-common) allows bpf() only
#    with CAP_SYS_ADMIN, which would hide what the capabilities do, so these
#    runs are unconfined too. /proc/sys stays read-only, as in a pod.
#    With all five the agent must be on its AF_XDP path, not a fallback.
LIB="$(cd "$(dirname "$0")/lib" && pwd)"
source "$LIB/common.sh"
source "$LIB/pods.sh"
source "$LIB/hooks.sh"

need_root
need_tool podman runc debootstrap jq curl iperf3 ping

CAPS=(BPF NET_ADMIN PERFMON NET_RAW IPC_LOCK)
NS=e2e-img

# --- the image ---------------------------------------------------------------
# NETRING_E2E_IMAGE: test an image built beforehand instead (it is left alone).
if [ -n "${NETRING_E2E_IMAGE:-}" ]; then
  TAG=$NETRING_E2E_IMAGE
  podman image exists "$TAG" || die "NETRING_E2E_IMAGE=$TAG: no such image"
  log "testing the given image $TAG (not built here)"
else
  # A tag of this run's own (other users of the node may build the default one).
  TAG="localhost/netring-agent:e2e-$$"
  dangling_before="$(podman images -q --filter dangling=true | sort -u)"
  # The build stage is left behind as an untagged image: remove this run's only.
  on_exit "comm -13 <(echo \"\$dangling_before\") <(podman images -q --filter dangling=true | sort -u) | xargs -r podman rmi -f"
  log "building $TAG (base image via scripts/base-image.sh)"
  "$E2E_SRC/scripts/image.sh" "$TAG" >"$E2E_TMP/image.log" 2>&1 || {
    tail -30 "$E2E_TMP/image.log" >&2
    die "image build failed"
  }
  on_exit "podman rmi -f $TAG"
  pass "image $TAG built from the Dockerfile"
fi

# --- pods --------------------------------------------------------------------
E2E_BRIDGE=nre2e1 E2E_SUBNET=10.213.1.0/24 E2E_GATEWAY=10.213.1.1
pods_bridge_cleanup
pod_add "$NS" client
pod_add "$NS" server
SIP=${POD_IP[$NS/server]}
VETHS=("${POD_HOSTVETH[$NS/client]}" "${POD_HOSTVETH[$NS/server]}")
only_ours="^(?!($(IFS='|'; echo "${VETHS[*]}"))\$).*"
pod_exec "$NS" server iperf3 -s -D -B "$SIP" --pidfile "$E2E_TMP/iperf3.pid" --logfile "$E2E_TMP/iperf3.log"
on_exit "kill \$(cat $E2E_TMP/iperf3.pid)"

METRICS="127.0.0.1:$(free_port)"
API="127.0.0.1:$(free_port)"
CNAME="netring-e2e-$$"
EXTRA_AGENT_FLAGS=""

# run_image LOG PODMAN_OPTS...: starts the agent container detached.
run_image() {
  local logf=$1
  shift
  podman rm -f "$CNAME" >/dev/null 2>&1 || true
  "$E2E_SRC/scripts/podman-run.sh" -d --name "$CNAME" --net=host --ulimit memlock=8388608:8388608 "$@" "$TAG" \
    --node-name "$(hostname)" --kube-api off --sample-rate 1 \
    --metrics-listen "$METRICS" --api-listen "$API" \
    --interfaces-exclude "$only_ours" $EXTRA_AGENT_FLAGS >"$E2E_TMP/$logf.id" 2>"$E2E_TMP/$logf.err" || {
    cat "$E2E_TMP/$logf.err" >&2
    return 1
  }
}
on_exit "podman rm -f $CNAME"

stop_image() { # LOG: SIGTERM, wait, keep the log
  podman stop -t 60 "$CNAME" >/dev/null 2>&1 || true
  podman logs "$CNAME" >"$E2E_TMP/$1.log" 2>&1 || true
  podman rm -f "$CNAME" >/dev/null 2>&1 || true
}

running() { [ "$(podman inspect -f '{{.State.Running}}' "$CNAME" 2>/dev/null)" = true ]; }
ready() { curl -sf "http://$METRICS/readyz" >/dev/null; }
ready_or_exited() { ready || ! running; }

# samples_arrive: pod traffic shows up as flows in the API and as received samples.
samples_arrive() {
  pod_exec "$NS" client ping -q -c 5 -i 0.1 "$SIP" >/dev/null || true
  pod_exec "$NS" client iperf3 -c "$SIP" -t 1 >/dev/null || true
  local deadline=$((SECONDS + 60)) n=0
  while [ "$SECONDS" -lt "$deadline" ]; do
    n=$(curl -sf "http://$API/api/v1/flows?namespace=$NS&limit=1000" | jq '.flows | length' 2>/dev/null || echo 0)
    [ "${n:-0}" -gt 0 ] && break
    # Without names (--kube-api off) the flows still carry the pods' addresses.
    n=$(curl -sf "http://$API/api/v1/flows?ip=$SIP&limit=1000" | jq '.flows | length' 2>/dev/null || echo 0)
    [ "${n:-0}" -gt 0 ] && break
    sleep 1
  done
  local received
  received=$(curl -sf "http://$METRICS/metrics" | awk '/^netring_samples_received_total/ {s += $2} END {print s + 0}')
  log "flows for $SIP: $n, samples received: $received"
  [ "${n:-0}" -gt 0 ] && python3 -c "import sys; sys.exit(0 if float('$received') > 0 else 1)"
}

no_hooks_left() {
  local v left=""
  for v in "${VETHS[@]}"; do left+="$(hooks_on "$v")"; done
  [ -z "$left" ] || {
    fail "hooks left after the container stopped: $left"
    return 1
  }
}

# --- 1. privileged -------------------------------------------------------------
run_image privileged --privileged || die "podman run --privileged failed"
wait_for 120 "agent ready or exited" ready_or_exited || true
if ready && samples_arrive; then
  pass "--privileged: samples arrive"
else
  fail "--privileged: no samples"
fi
# The image's command line, as `kubectl exec ds/netring -- netring ...` runs it.
got=$(podman exec "$CNAME" netring observe --server "$API" --ip "$SIP" --last 1000 -o json | jq -sc 'sort_by(.id) | map(.id)')
want=$(curl -sf "http://$API/api/v1/flows?ip=$SIP&limit=1000" | jq -c '.flows | sort_by(.id) | map(.id)')
[ "$got" = "$want" ] && [ "$got" != "[]" ] && pass "netring in the image: observe gives the API's flows" ||
  fail "netring in the image: $got, API $want"
podman exec "$CNAME" netring status --server "$API" | grep -q "capture " || fail "netring status in the image"
stop_image privileged
no_hooks_left

# --- 2. the capability list ------------------------------------------------------
EXTRA_AGENT_FLAGS="--workers 4"
cap_opts() { # CAPS...: --cap-drop=ALL and --cap-add for each
  local o=(--security-opt seccomp=unconfined --cap-drop=ALL) c
  for c in "$@"; do o+=("--cap-add=$c"); done
  echo "${o[@]}"
}
# shellcheck disable=SC2046
run_image caps-all $(cap_opts "${CAPS[@]}") || die "podman run with the capability list failed"
wait_for 120 "agent ready or exited" ready_or_exited || true
if ready && samples_arrive; then
  pass "--cap-drop=ALL --cap-add=${CAPS[*]}: samples arrive"
else
  fail "with exactly ${CAPS[*]}: no samples"
fi
backend="$(curl -sf "http://$API/api/v1/status" | jq -r '.backend.name' 2>/dev/null || true)"
stop_image caps-all
[ "$backend" = afxdp ] && pass "with exactly ${CAPS[*]}: backend afxdp" ||
  fail "with exactly ${CAPS[*]}: backend '${backend}', not afxdp; log: $(grep -v level=debug "$E2E_TMP/caps-all.log" | grep -i 'error\|fallback\|denied\|ready' | head -5 | cut -c1-300 | tr '\n' ' ')"
no_hooks_left
tail -3 "$E2E_TMP/caps-all.log" >&2 || true

for missing in "${CAPS[@]}"; do
  keep=()
  for c in "${CAPS[@]}"; do [ "$c" = "$missing" ] || keep+=("$c"); done
  # shellcheck disable=SC2046
  run_image "no-$missing" $(cap_opts "${keep[@]}") || {
    fail "podman run without $missing failed to start"
    continue
  }
  wait_for 120 "agent ready or exited" ready_or_exited || true
  status_json="$(curl -sf "http://$API/api/v1/status" 2>/dev/null || true)"
  state=exited
  if running; then
    state=running
    ready && samples_arrive && state=sampling
  fi
  stop_image "no-$missing"
  printf '%s\n' "$status_json" >"$E2E_TMP/no-$missing.status.json"
  # The message must name the capability: in the log, or (after a fallback) in the status's reasons.
  named="$(grep -h "CAP_$missing" "$E2E_TMP/no-$missing.log" "$E2E_TMP/no-$missing.status.json" | head -3 || true)"
  log "without $missing: agent $state; message: ${named:-<none naming CAP_$missing>}"
  if [ -z "$named" ]; then
    fail "without CAP_$missing the agent ($state) printed no message naming CAP_$missing; last log lines: $(tail -3 "$E2E_TMP/no-$missing.log" | tr '\n' ' ')"
  elif [ "$state" = sampling ] && ! grep -qi 'fallback\|falls back\|fell back' <<<"$named$status_json"; then
    fail "without CAP_$missing the agent still samples and reports no fallback: CAP_$missing looks unnecessary"
  else
    pass "without CAP_$missing: $state, named in: $(head -1 <<<"$named" | cut -c1-200)"
  fi
  no_hooks_left
done

[ "$E2E_FAILED" = 0 ] || die "some checks failed (see above)"
log "all checks passed"
