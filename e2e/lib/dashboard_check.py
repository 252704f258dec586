#!/usr/bin/env python3
"""Evaluates every panel query of the Grafana dashboard against Prometheus.

usage: dashboard_check.py DASHBOARD.json PROMETHEUS_URL

$__rate_interval (a Grafana variable) becomes 1m. (histogram_quantile
consumes `le`, which its query must group by: that label is not required.) A panel passes when each
of its queries returns at least one series, and every label it groups by
(`by (a, b)`) is present and non-empty in the result: a label the agent does
not export would still "return data", collapsed into one series.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

dash_path, prom = sys.argv[1:3]
dash = json.load(open(dash_path))


def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))


bad = 0
for p in panels(dash["panels"]):
    for t in p.get("targets", []):
        expr = t.get("expr")
        if not expr:
            continue
        q = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
        url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
        res = json.load(urllib.request.urlopen(url))["data"]["result"]
        by = set()
        for m in re.finditer(r"\bby\s*\(([^)]*)\)", q):
            by |= {x.strip() for x in m.group(1).split(",") if x.strip()}
        if q.startswith("histogram_quantile("):
            by.discard("le")  # the quantile consumes the bucket label
        missing = sorted(l for l in by if not any(r["metric"].get(l) for r in res))
        ok = bool(res) and not missing
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {p.get('title')!r}: {len(res)} series"
              + (f", labels never set: {missing}" if missing else "") + f"  [{q}]")
sys.exit(1 if bad else 0)
