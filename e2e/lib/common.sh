# Sourced by e2e/*.sh: paths, logging, and one teardown stack run by a trap
# whatever happens (failure, signal, normal end), last registered first.
set -euo pipefail

E2E_SRC="${NETRING_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
E2E_BUILD="${NETRING_BUILD_DIR:-$E2E_SRC/build}"
E2E_NAME="$(basename "$0" .sh)"
E2E_TMP="$(mktemp -d "/tmp/netring-e2e-${E2E_NAME}.XXXXXX")"
E2E_FAILED=0
_e2e_cleanups=()

log() { printf '[%s %s] %s\n' "$(date +%T)" "$E2E_NAME" "$*" >&2; }
fail() {
  log "FAIL: $*"
  E2E_FAILED=1
}
die() {
  log "FATAL: $*"
  exit 1
}
pass() { log "ok: $*"; }

# on_exit CMD...: run CMD at teardown (as one eval'd string).
on_exit() { _e2e_cleanups+=("$*"); }

_e2e_teardown() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  local i
  for ((i = ${#_e2e_cleanups[@]} - 1; i >= 0; i--)); do
    eval "${_e2e_cleanups[i]}" >/dev/null 2>&1
  done
  if [ "$rc" -ne 0 ] || [ "$E2E_FAILED" -ne 0 ]; then
    log "logs kept in $E2E_TMP"
    [ "$rc" -ne 0 ] || rc=1
  else
    rm -rf "$E2E_TMP"
  fi
  exit "$rc"
}
trap _e2e_teardown EXIT
trap 'exit 130' INT TERM

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }
need_tool() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null || die "$t missing (scripts/deps.sh installs it)"; done
}

# wait_for SECONDS DESCRIPTION CMD...: polls CMD every 0.5 s; generous timeouts, never a tight bound.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || {
      log "timed out after ${secs}s waiting for: $what"
      return 1
    }
    sleep 0.5
  done
}

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
