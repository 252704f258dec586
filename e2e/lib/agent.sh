# The agent from the build, run in the background with its log in tmp;
# stopped with SIGTERM at teardown. Needs common.sh.

AGENT_PID=""
AGENT_METRICS=""
AGENT_API=""
AGENT_LOG=""
_agent_runs=0

# agent_start [FLAGS...]: metrics and API on free loopback ports, the same
# ones again on a restart (Prometheus keeps scraping one target).
agent_start() {
  [ -n "$AGENT_METRICS" ] || AGENT_METRICS="127.0.0.1:$(free_port)"
  [ -n "$AGENT_API" ] || AGENT_API="127.0.0.1:$(free_port)"
  _agent_runs=$((_agent_runs + 1))
  AGENT_LOG="$E2E_TMP/agent-$_agent_runs.log"
  "$E2E_BUILD/netring-agent" --metrics-listen "$AGENT_METRICS" --api-listen "$AGENT_API" "$@" >"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  on_exit "agent_stop"
  log "agent pid $AGENT_PID metrics $AGENT_METRICS api $AGENT_API"
}

agent_ready() { curl -sf "http://$AGENT_METRICS/readyz" >/dev/null; }

# agent_stop: SIGTERM and wait (generous: detach is allowed to take time); returns the exit status.
agent_stop() {
  [ -n "$AGENT_PID" ] || return 0
  local pid=$AGENT_PID rc=0
  AGENT_PID=""
  kill -TERM "$pid" 2>/dev/null || return 0
  local i
  for i in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "agent did not stop within 60 s of SIGTERM; killing"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    return 1
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

api_get() { curl -sf "http://$AGENT_API$1"; }
