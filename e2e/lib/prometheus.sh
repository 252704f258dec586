# A real Prometheus server (Debian's `prometheus`) on loopback, scraping the
# agent's metrics listener every second, its TSDB in the scenario's tmp dir;
# PromQL through its HTTP API. Needs common.sh.

PROM_PORT=""
PROM_URL=""

# prom_start TARGET (host:port of the agent's /metrics)
prom_start() {
  local target=$1
  PROM_PORT="$(free_port)"
  PROM_URL="http://127.0.0.1:$PROM_PORT"
  mkdir -p "$E2E_TMP/prometheus"
  cat >"$E2E_TMP/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: netring
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ["$target"]
        labels: {node: e2e}
YAML
  prometheus --config.file="$E2E_TMP/prometheus/prometheus.yml" \
    --storage.tsdb.path="$E2E_TMP/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" \
    --log.level=warn >"$E2E_TMP/prometheus/log" 2>&1 &
  local pid=$!
  on_exit "kill $pid; wait $pid"
  wait_for 60 "prometheus ready" curl -sf "$PROM_URL/-/ready" || die "prometheus did not start"
  log "prometheus at $PROM_URL scraping $target"
}

# promql EXPR: the raw JSON of an instant query.
promql() {
  curl -sf --get "$PROM_URL/api/v1/query" --data-urlencode "query=$1"
}

# prom_value EXPR: the single value of a scalar-ish query (sum(...)), "" when empty.
prom_value() {
  promql "$1" | jq -r '.data.result[0].value[1] // empty'
}

# prom_count EXPR: how many series the query returns.
prom_count() {
  promql "$1" | jq -r '.data.result | length'
}

# prom_target_up: the agent target was scraped successfully at least once.
prom_target_up() { [ "$(prom_value 'up{job="netring"}')" = 1 ]; }

# prom_scraped_since EPOCH: a scrape newer than EPOCH has landed (so the TSDB holds the counters' values after EPOCH).
prom_scraped_since() {
  local t
  t="$(promql 'timestamp(up{job="netring"})' | jq -r '.data.result[0].value[1] // 0')"
  python3 -c "import sys; sys.exit(0 if float('$t') > float('$1') else 1)"
}
