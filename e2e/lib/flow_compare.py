#!/usr/bin/env python3
"""Compares the flow API's per-connection estimates with conntrack's counts.

usage: flow_compare.py CT.jsonl FLOWS_FROM.json FLOWS_TO.json exact|interval

CT.jsonl: one conntrack entry per line (lib/conntrack.sh conntrack_dump).
Each conntrack direction (orig, reply) is matched with the agent's flows of
that direction: same addresses and protocol, and for TCP/UDP the same ports
(ICMP flows are summed over the address pair: conntrack keys ICMP by echo id,
the agent by type). Several flows of one tuple (an evicted flow continued by
a new one) add up; their standard errors add in quadrature.

exact: the agent's bytes and packets equal conntrack's (rate 1, no loss).
interval: conntrack's bytes lie inside bytes +- 2.576 * stderr (99%), for
  directions of at least 1 MB: a direction with a handful of packets may
  have no sample at all, and its interval is then [0, 0] by construction.
Prints one line per direction compared; exits 1 on any mismatch.
"""
import json
import math
import sys

ct_path, from_path, to_path, mode = sys.argv[1:5]
flows = {}
for path in (from_path, to_path):
    with open(path) as f:
        for fl in json.load(f)["flows"]:
            flows[fl["id"]] = fl

entries = [json.loads(l) for l in open(ct_path) if l.strip()]
bad = 0
checked = 0


def matching(proto, src, dst, sport, dport):
    out = []
    for fl in flows.values():
        if fl["protocol"] != proto or fl["src"]["ip"] != src or fl["dst"]["ip"] != dst:
            continue
        if proto in ("tcp", "udp") and (str(fl["src"]["port"]) != sport or str(fl["dst"]["port"]) != dport):
            continue
        out.append(fl)
    return out


for e in entries:
    if e["proto"] not in ("tcp", "udp", "icmp"):
        continue
    for side, src, dst, sport, dport in (("orig", e["src"], e["dst"], e["sport"], e["dport"]),
                                         ("reply", e["dst"], e["src"], e["dport"], e["sport"])):
        ct_bytes, ct_packets = e[side + "_bytes"], e[side + "_packets"]
        if ct_packets == 0:
            continue
        fls = matching(e["proto"], src, dst, sport, dport)
        est = sum(f["bytes"] for f in fls)
        pk = sum(f["packets"] for f in fls)
        se = math.sqrt(sum(f["bytes_stderr"] ** 2 for f in fls))
        what = f"{e['proto']} {src}:{sport} -> {dst}:{dport}"
        if mode == "exact":
            ok = round(est) == ct_bytes and round(pk) == ct_packets
            print(f"{'ok ' if ok else 'BAD'} {what}: agent {round(est)} B {round(pk)} skbs, "
                  f"conntrack {ct_bytes} B {ct_packets} skbs")
        else:
            if ct_bytes < 1_000_000:
                continue
            lo, hi = max(0.0, est - 2.576 * se), est + 2.576 * se
            ok = lo <= ct_bytes <= hi
            rel = (est - ct_bytes) / ct_bytes
            print(f"{'ok ' if ok else 'BAD'} {what}: agent {est:.0f} B (99% [{lo:.0f}, {hi:.0f}], "
                  f"{len(fls)} flows), conntrack {ct_bytes} B, error {rel:+.3%}")
        checked += 1
        bad += not ok

if checked == 0:
    print("no conntrack direction to compare")
    sys.exit(1)
sys.exit(1 if bad else 0)
