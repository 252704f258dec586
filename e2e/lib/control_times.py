#!/usr/bin/env python3
"""Compares netring's DNS latencies and TCP SYN -> SYN-ACK times with tshark's.

usage: control_times.py TSHARK_DNS.tsv DNS.json TSHARK_SYN.tsv FLOWS.json

TSHARK_DNS.tsv: per DNS response (captured on the server's veth, its query on
the client's: where the sampler sees each), the client's port and tshark's
dns.time (query to response, s). DNS.json: /api/v1/dns.
TSHARK_SYN.tsv: per SYN or SYN-ACK, source port, destination port, the ACK
flag and the capture time. FLOWS.json: /api/v1/flows of the client's
connections. curl uses a fresh client port for each connection, so the port
names one. dig's ports are random and two of its queries may share one (39
queries: a few runs in a hundred): the queries of a port are matched in order
of their times, and a port must have as many in netring's records as in
tshark's capture. Every time must agree within 1 ms (tshark's
stamp is taken when the veth queues the packet for the receiving CPU,
netring's when the packet leaves that queue: a loaded machine puts a few
hundred microseconds between them).
"""
import json
import sys

dns_tsv, dns_json, syn_tsv, flows_json = sys.argv[1:]
bad = 0

by_port = {}
for line in open(dns_tsv):
    port, t = line.split()
    by_port.setdefault(int(port), []).append(float(t) * 1000)
recs = json.load(open(dns_json))["dns"]
mine = {}
for r in recs:
    mine.setdefault(r["client"]["port"], []).append(r["latency_ms"])
worst = 0.0
for port, lat in sorted(mine.items()):
    ts = by_port.get(port, [])
    if len(ts) != len(lat):
        print(f"DNS: client port {port}: {len(lat)} in netring's records, {len(ts)} in tshark's capture: {ts}")
        bad += 1
        continue
    # Sorted against sorted: the pairing with the smallest largest difference.
    for a, b in zip(sorted(lat), sorted(ts)):
        d = abs(b - a)
        worst = max(worst, d)
        if d > 1.0:
            print(f"DNS: port {port}: netring {a:.3f} ms, tshark {b:.3f} ms")
            bad += 1
if not recs:
    print("DNS: no records")
    bad += 1
print(f"DNS: {len(recs)} latencies, largest difference from tshark {worst:.3f} ms")

syn, synack = {}, {}
for line in open(syn_tsv):
    sport, dport, ack, t = line.split()
    if ack in ("0", "False"):
        syn[int(sport)] = float(t)
    else:
        synack[int(dport)] = float(t)
worst = 0.0
n = 0
for f in json.load(open(flows_json))["flows"]:
    h = f.get("handshake")
    if not h or not h["established"]:
        continue
    p = f["src"]["port"]
    if p not in syn or p not in synack:
        print(f"TCP: client port {p} not in tshark's capture")
        bad += 1
        continue
    want = (synack[p] - syn[p]) * 1000
    d = abs(want - h["syn_to_synack_ms"])
    worst = max(worst, d)
    n += 1
    if d > 1.0:
        print(f"TCP: port {p}: netring {h['syn_to_synack_ms']:.3f} ms, tshark {want:.3f} ms")
        bad += 1
if n == 0:
    print("TCP: no handshakes")
    bad += 1
print(f"TCP: {n} handshakes, largest SYN -> SYN-ACK difference from tshark {worst:.3f} ms")
sys.exit(1 if bad else 0)
