#!/usr/bin/env python3
"""Compares the agent's flows (/api/v1/flows JSON) with what IPFIX collectors
stored for them: nfdump (`nfdump -o json`) and pmacct (nfacctd's print
plugin, JSON lines). Per flow (5-tuple), the sum of a collector's records must
equal the API's bytes and packets rounded to integers (netring sends each
flow's rounded running total in deltas). With pmacct, the pod names of both
ends must be the API's too (netring's enterprise elements, read through
aggregate_primitives).

Usage: ipfix_compare.py API_FLOWS.json NFDUMP.json PMACCT.jsonl
Exit 0 when every flow matches in both collectors; prints one line a flow.
"""
import ipaddress
import json
import sys

PROTOS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}


def proto(v):
    if isinstance(v, int):
        return v
    return PROTOS[v] if v in PROTOS else int(v)


def key(src, dst, sport, dport, p):
    p = proto(p)
    icmp = p in (1, 58)
    return (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)), 0 if icmp else int(sport),
            0 if icmp else int(dport), p)


def main():
    api = json.load(open(sys.argv[1]))["flows"]
    raw = open(sys.argv[2]).read().strip()
    nf = json.loads(raw if raw.startswith("[") else "[" + raw + "]") if raw else []
    pm = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]

    sums = {"nfdump": {}, "pmacct": {}}
    for r in nf:
        k = key(r.get("src4_addr") or r.get("src6_addr"), r.get("dst4_addr") or r.get("dst6_addr"),
                r.get("src_port", 0), r.get("dst_port", 0), r["proto"])
        b, p = sums["nfdump"].get(k, (0, 0))
        sums["nfdump"][k] = (b + r["in_bytes"], p + r["in_packets"])
    names = {}
    for r in pm:
        k = key(r["ip_src"], r["ip_dst"], r.get("port_src", 0), r.get("port_dst", 0), r["ip_proto"])
        b, p = sums["pmacct"].get(k, (0, 0))
        sums["pmacct"][k] = (b + r["bytes"], p + r["packets"])
        names[k] = (r.get("src_pod", ""), r.get("dst_pod", ""))

    bad = 0
    if not api:
        print("no flows in the API")
        return 1
    for f in api:
        k = key(f["src"]["ip"], f["dst"]["ip"], f["src"]["port"], f["dst"]["port"], f["protocol"])
        want = (round(f["bytes"]), round(f["packets"]))
        line = f"{k[4]:>3} {k[0]}:{k[2]} -> {k[1]}:{k[3]} api {want[0]} B {want[1]} pkts"
        for c in ("nfdump", "pmacct"):
            got = sums[c].get(k)
            line += f" | {c} {got[0] if got else '-'} B {got[1] if got else '-'} pkts"
            if got != want:
                bad += 1
                line += " MISMATCH"
        if names.get(k) != (f["src"]["pod"], f["dst"]["pod"]):
            bad += 1
            line += f" | pmacct names {names.get(k)} != api ({f['src']['pod']}, {f['dst']['pod']})"
        print(line)
    for c in ("nfdump", "pmacct"):
        extra = set(sums[c]) - {key(f["src"]["ip"], f["dst"]["ip"], f["src"]["port"], f["dst"]["port"], f["protocol"])
                                for f in api}
        for k in sorted(extra):
            bad += 1
            print(f"{c} has a flow the API does not: {k} {sums[c][k]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
