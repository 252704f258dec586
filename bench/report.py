#!/usr/bin/env python3
"""Turns the benchmarks' JSON (bench/run writes it to bench/results/raw/)
into bench/results/REPORT.md, bench/results/results.json and PNG plots.

Every figure is a row: netring's value, the reference's value measured in
the same run, their ratio, median [min..max] of the rounds, the goal from
issue 9 and whether it was met. A figure that was not measured (its
benchmark failed, or needs the running agent) says so instead of a number.

  report.py --raw bench/results/raw --out bench/results
"""
import argparse
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import pod_cost as pod_cost_py  # noqa: E402  (bench/, the script's own folder: figure 9's rounds judged alike)


def load(raw, name):
    try:
        with open(os.path.join(raw, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def summ(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def fmt(x, unit=""):
    if x is None:
        return "—"
    a = abs(x)
    if a >= 1e9:
        s = f"{x / 1e9:.3g}G"
    elif a >= 1e6:
        s = f"{x / 1e6:.3g}M"
    elif a >= 1e4:
        s = f"{x / 1e3:.3g}k"
    elif a >= 100:
        s = f"{x:.0f}"
    else:
        s = f"{x:.3g}"
    return s + unit


def fmt_s(s, unit=""):
    if s is None:
        return "—"
    if "min" not in s or s["min"] is None:
        return fmt(s["median"], unit)
    return f"{fmt(s['median'], unit)} [{fmt(s['min'])}..{fmt(s['max'])}]"


class Figures:
    def __init__(self):
        self.rows = []

    def add(self, fig, name, metric, netring, ref_name, ref, ratio, goal, met, note="", undecided=False):
        """netring/ref: summaries (median/min/max) or None; ratio: float or None;
        met: True/False/None (None = no goal on this row, or not measured);
        undecided: the verdict is within its run's noise (an interval over the rounds holds the limit)."""
        if (met is not None and netring and ref and "min" in netring and "min" in ref
                and netring["min"] <= ref["max"] and ref["min"] <= netring["max"]):
            note = (note + "; " if note else "") + "min..max ranges overlap (difference within run-to-run noise)"
        self.rows.append(
            {
                "figure": fig,
                "name": name,
                "metric": metric,
                "netring": netring,
                "reference_name": ref_name,
                "reference": ref,
                "ratio": ratio,
                "goal": goal,
                "met": met,
                "undecided": bool(undecided and met is not None),
                "note": note,
            }
        )

    def missing(self, fig, name, goal, why):
        self.add(fig, name, "", None, "", None, None, goal, None, "not measured: " + why)


def bar_plot(path, title, ylabel, groups, series, log=False):
    """groups: x labels; series: list of (label, [summary or None per group])."""
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(groups) * len(series)), 4))
    width = 0.8 / max(1, len(series))
    for i, (label, vals) in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for g, s in enumerate(vals):
            if s is None:
                continue
            xs.append(g + (i - (len(series) - 1) / 2) * width)
            ys.append(s["median"])
            lo.append(s["median"] - s.get("min", s["median"]))
            hi.append(s.get("max", s["median"]) - s["median"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=label)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title + "\n(median, whiskers min..max)", fontsize=10)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def afxdp(raw, out, F, status):
    j = load(raw, "afxdp_bench.json")
    goal_rate = ">= 1.0x rate"
    if not j:
        for s in ("RX 64B", "RX 1500B", "TX 64B", "TX 1500B"):
            F.missing(1, "AF_XDP " + s, goal_rate + ", <= 1.0x CPU/pkt", status("afxdp_bench"))
        return None
    pairs = j.get("pairs", 0)
    groups, nr_pps, ref_pps, nr_cpu, ref_cpu = [], [], [], [], []
    for r in j["results"]:
        scen = r["scenario"]
        n = {"median": r["netring_pps"], "min": r["netring_pps_min"], "max": r["netring_pps_max"]}
        x = {"median": r["libxdp_pps"], "min": r["libxdp_pps_min"], "max": r["libxdp_pps_max"]}
        informational = scen.startswith("DRAIN")
        note = f"{pairs} alternating pairs"
        if informational:
            note += "; DRAIN = user-space drain of a full ring only (informational)"
        F.add(1, "AF_XDP " + scen, "packets/s", n, "libxdp xsk", x, r["rate_ratio"],
              None if informational else goal_rate,
              None if informational else r["rate_ratio"] >= 1.0, note + ("" if pairs >= 9 else " (goal asks >= 9)"))
        nc = {"median": r["netring_cpu_s_per_mpkt"], "min": r.get("netring_cpu_min"),
              "max": r.get("netring_cpu_max")}
        xc = {"median": r["libxdp_cpu_s_per_mpkt"], "min": r.get("libxdp_cpu_min"), "max": r.get("libxdp_cpu_max")}
        if nc["min"] is None:
            nc, xc = {"median": nc["median"]}, {"median": xc["median"]}
        F.add(1, "AF_XDP " + scen, "CPU s per Mpkt", nc, "libxdp xsk", xc, r["cpu_ratio"],
              None if informational else "<= 1.0x CPU/pkt",
              None if informational else r["cpu_ratio"] <= 1.0,
              "ratio = netring/libxdp, lower is better")
        if scen.startswith("RX"):
            F.add(1, "AF_XDP " + scen, "rx_dropped per run (median)", {"median": r["netring_rx_dropped"]},
                  "libxdp xsk", {"median": r["libxdp_rx_dropped"]}, None, "0 at generator maximum",
                  r["netring_rx_dropped"] == 0,
                  "XDP_STATISTICS rx_dropped + rx_ring_full; the generator is unthrottled")
        groups.append(scen)
        nr_pps.append(n)
        ref_pps.append(x)
        nr_cpu.append(nc)
        ref_cpu.append(xc)
    bar_plot(os.path.join(out, "afxdp_rate.png"), "AF_XDP on veth: netring vs libxdp xsk", "packets/s (log)",
             groups, [("netring", nr_pps), ("libxdp", ref_pps)], log=True)
    bar_plot(os.path.join(out, "afxdp_cpu.png"), "AF_XDP on veth: CPU per packet (lower is better)",
             "CPU s per Mpkt (log)", groups, [("netring", nr_cpu), ("libxdp", ref_cpu)], log=True)
    return ["afxdp_rate.png", "afxdp_cpu.png"]


def wakeup_note(j):
    w = j.get("wakeups")
    if not w:
        return ""
    n, p = w["netring"], w["libpcap"]
    return (f"; per poll() wake-up: netring {n['packets_per_wakeup']:.0f} packets, {n['cpu_us_per_wakeup']:.1f} us CPU "
            f"({n['fixed_us']:.1f} us not per-packet), libpcap {p['packets_per_wakeup']:.0f} packets, "
            f"{p['cpu_us_per_wakeup']:.1f} us ({p['fixed_us']:.1f} us); ratio with a free netring walk "
            f"{w['ratio_bound_free_walk']:.2f}x")


def capture_port(raw, out, F, status):
    """Figure 11: a capture port (counting XSKMAP program, AF_XDP per queue) read by netring's capture-port
    path against a libxdp xsk receiver behind the same program with the same ring sizes; and the shared
    against the per-queue UMEM (informational, it picks the default)."""
    j = load(raw, "capture_port_bench.json")
    if not j:
        for s in ("RX 64B", "RX 1500B"):
            F.missing(11, "capture port " + s, ">= 1.0x rate, <= 1.0x CPU/pkt", status("capture_port_bench"))
        return None
    pairs = j.get("pairs", 0)
    groups, nr_pps, ref_pps, nr_cpu, ref_cpu = [], [], [], [], []
    for r in j["results"]:
        scen = r["scenario"]
        if scen.startswith("RX2Q"):
            a = {"median": r["shared_pps"], "min": r["shared_pps_min"], "max": r["shared_pps_max"]}
            b = {"median": r["per_queue_pps"], "min": r["per_queue_pps_min"], "max": r["per_queue_pps_max"]}
            F.add(11, "capture port " + scen + ", shared UMEM", "packets/s", a, "one UMEM per queue", b,
                  r["rate_ratio"], None, None, f"{pairs} alternating pairs; informational: picks the default")
            a = {"median": r["shared_cpu_s_per_mpkt"], "min": r["shared_cpu_min"], "max": r["shared_cpu_max"]}
            b = {"median": r["per_queue_cpu_s_per_mpkt"], "min": r["per_queue_cpu_min"],
                 "max": r["per_queue_cpu_max"]}
            F.add(11, "capture port " + scen + ", shared UMEM", "CPU s per Mpkt", a, "one UMEM per queue", b,
                  r["cpu_ratio"], None, None, "ratio = shared / per queue, lower is better")
            continue
        n = {"median": r["netring_pps"], "min": r["netring_pps_min"], "max": r["netring_pps_max"]}
        x = {"median": r["libxdp_pps"], "min": r["libxdp_pps_min"], "max": r["libxdp_pps_max"]}
        note = f"{pairs} alternating pairs, default ring {r.get('ring', '?')}" + ("" if pairs >= 9 else
                                                                                 " (goal asks >= 9)")
        F.add(11, "capture port " + scen, "packets/s", n, "libxdp xsk", x, r["rate_ratio"], ">= 1.0x rate",
              r["rate_ratio"] >= 1.0, note)
        nc = {"median": r["netring_cpu_s_per_mpkt"], "min": r["netring_cpu_min"], "max": r["netring_cpu_max"]}
        xc = {"median": r["libxdp_cpu_s_per_mpkt"], "min": r["libxdp_cpu_min"], "max": r["libxdp_cpu_max"]}
        F.add(11, "capture port " + scen, "CPU s per Mpkt", nc, "libxdp xsk", xc, r["cpu_ratio"], "<= 1.0x CPU/pkt",
              r["cpu_ratio"] <= 1.0, "receiving thread's CPU; ratio = netring/libxdp, lower is better")
        F.add(11, "capture port " + scen, "rx_dropped per run (max)", {"median": r["netring_rx_dropped_max"]},
              "libxdp xsk", {"median": r["libxdp_rx_dropped_max"]}, None, "0 at generator maximum",
              r["netring_rx_dropped_max"] == 0,
              f"XDP_STATISTICS rx_dropped + rx_ring_full with the default ring sizes; generator "
              f"{fmt(r['netring_gen_pps'])} pkt/s (median)")
        groups.append(scen)
        nr_pps.append(n)
        ref_pps.append(x)
        nr_cpu.append(nc)
        ref_cpu.append(xc)
    if not groups:
        return None
    bar_plot(os.path.join(out, "capture_port_rate.png"), "Capture port on veth: netring vs libxdp xsk", "packets/s",
             groups, [("netring", nr_pps), ("libxdp", ref_pps)])
    bar_plot(os.path.join(out, "capture_port_cpu.png"), "Capture port: CPU per packet (lower is better)",
             "CPU s per Mpkt", groups, [("netring", nr_cpu), ("libxdp", ref_cpu)])
    return ["capture_port_rate.png", "capture_port_cpu.png"]


def ring_note(j):
    r = j.get("ring")
    if not r:
        return "; ring geometry not recorded (older tpacket_bench)"
    return (f"; both rings {r['block_nr']} blocks x {r['block_size'] // 1024} KiB, {r['frame_size']} B frames "
            "(libpcap's own sizing, read back from the kernel and given to netring)")


def tpacket(raw, out, F, status):
    j = load(raw, "tpacket_bench.json")
    goal = ">= 1.2x packets per CPU-s"
    if not j:
        F.missing(2, "TPACKET_V3 RX stream", goal, status("tpacket_bench"))
        return None
    n, p = j["netring"], j["libpcap"]
    F.add(2, "TPACKET_V3 RX stream (64 B)", "packets per CPU-s", n["pkts_per_cpu_s"], "libpcap (V3)",
          p["pkts_per_cpu_s"], j["ratio_pkts_per_cpu_s"], goal, j["ratio_pkts_per_cpu_s"] >= 1.2,
          f"{j['rounds']} alternating rounds; drops netring {n['drops']}/{n['packets']}, "
          f"libpcap {p['drops']}/{p['packets']}" + ring_note(j) + wakeup_note(j))
    F.add(2, "TPACKET_V3 RX stream (64 B)", "packets/s", n["pps"], "libpcap (V3)", p["pps"],
          n["pps"]["median"] / p["pps"]["median"] if p["pps"]["median"] else None, None, None, "informational")
    sl = j.get("stream_long")
    if sl:
        ln, lp = sl["netring"], sl["libpcap"]
        F.add(2, f"TPACKET_V3 RX stream, {sl['retire_ms']} ms block timeout (64 B)", "packets per CPU-s",
              ln["pkts_per_cpu_s"], "libpcap (V3)", lp["pkts_per_cpu_s"], sl["ratio_pkts_per_cpu_s"], goal,
              sl["ratio_pkts_per_cpu_s"] >= 1.2,
              f"same stream, both readers at a {sl['retire_ms']} ms retire timeout (netring's default): blocks close "
              f"full, one wake-up per block; drops netring {ln['drops']}/{ln['packets']}, "
              f"libpcap {lp['drops']}/{lp['packets']}")
    d = j["drain"]
    F.add(2, "TPACKET_V3 RX drain (64 B)", "packets per CPU-s", d["netring"]["pkts_per_cpu_s"], "libpcap (V3)",
          d["libpcap"]["pkts_per_cpu_s"], d["ratio_pkts_per_cpu_s"], None, None,
          "informational: the reading library's own cost, ring filled while idle")
    bar_plot(os.path.join(out, "tpacket.png"), "TPACKET_V3 RX vs libpcap", "packets per CPU-second",
             ["stream", "drain"],
             [("netring", [n["pkts_per_cpu_s"], d["netring"]["pkts_per_cpu_s"]]),
              ("libpcap V3", [p["pkts_per_cpu_s"], d["libpcap"]["pkts_per_cpu_s"]]),
              ("libpcap immediate (V2)", [j["libpcap_immediate_v2"]["pkts_per_cpu_s"], None])])
    return ["tpacket.png"]


def flow(raw, out, F, status):
    """Figure 3. The headline ratio is table against table (the same parsed
    batches into each); the parse + update rows put the same prefetching,
    batched parse in front of both tables, so their ratio is diluted by the
    shared parse, and netring's rate there is the packets/s goal."""
    j = load(raw, "flow_bench.json")
    if not j:
        for size in ("1k", "100k", "1M"):
            F.missing(3, f"flow table update {size} flows", ">= 3x", status("flow_bench"))
        return None
    runs = {}
    for b in j.get("benchmarks", []):
        if b.get("run_type") != "iteration" or "items_per_second" not in b:
            continue
        fn, _, arg = b["run_name"].partition("/")
        runs.setdefault(fn, {}).setdefault(arg, []).append(b["items_per_second"])
    sizes = sorted(runs.get("BM_NetringTable", {}), key=lambda a: int(a.split(":")[-1]))
    groups, ts, tb, ns, bs = [], [], [], [], []
    for arg in sizes:
        flows = int(arg.split(":")[-1])
        label = {1000: "1k", 100000: "100k", 1000000: "1M"}.get(flows, str(flows))
        t = summ(runs["BM_NetringTable"][arg])
        tbase = summ(runs.get("BM_BaselineTable", {}).get(arg, []))
        ratio = t["median"] / tbase["median"] if tbase and tbase["median"] else None
        F.add(3, f"flow table update {label} flows", "packets/s (1 core)", t, "std::unordered_map", tbase, ratio,
              ">= 3x", ratio is not None and ratio >= 3.0,
              f"{t['n']} interleaved repetitions; the same parsed batches into each table, only the table timed")
        n = summ(runs.get("BM_NetringParseUpdate", {}).get(arg, []))
        b = summ(runs.get("BM_BaselineParseUpdate", {}).get(arg, []))
        parse = runs.get("BM_Parse", {})
        pf = summ(parse.get(arg + "/prefetch:1", []))
        if n:
            pratio = n["median"] / b["median"] if b and b["median"] else None
            goal = ">= 20 Mpps/core" if flows == 100000 else None
            F.add(3, f"flow parse+update {label} flows", "packets/s (1 core)", n, "std::unordered_map", b, pratio,
                  goal, (n["median"] >= 20e6) if goal else None,
                  "the same prefetching, batched parse in front of both tables; ratio informational"
                  + (f"; parse alone {fmt(pf['median'])}/s" if pf else ""))
        groups.append(label)
        ts.append(t)
        tb.append(tbase)
        ns.append(n)
        bs.append(b)
    bar_plot(os.path.join(out, "flow.png"), "Flow table update, and parse + update, vs std::unordered_map",
             "packets/s", groups, [("netring table", ts), ("unordered_map table", tb),
                                   ("netring parse+update", ns), ("unordered_map parse+update", bs)])
    return ["flow.png"]


def datapath(raw, out, F, status):
    j = load(raw, "datapath_bench.json")
    goals = {1: (">= 0.70x", 0.70), 100: (">= 0.97x", 0.97), 1000: (None, None), 1000000: (None, None)}
    if not j:
        for rate in (1, 100, 1000):
            F.missing(4, f"pod-to-pod TCP 1:{rate}", goals[rate][0], status("datapath_bench"))
        return None
    # Older files have one rung and no "backend" key.
    cfg = {(c.get("backend", "afxdp"), c["rate"]): c for c in j["configs"]}
    unhooked = cfg.get(("afxdp", 0))
    base = summ(unhooked["gbps"])
    base_cpu = summ(unhooked.get("cpu_s_per_gb", []))
    groups, vals = ["unhooked"], [base]
    for backend, label in (("afxdp", "AF_XDP"), ("tpacket", "TPACKET_V3")):
        for rate in (1, 100, 1000, 1000000):
            c = cfg.get((backend, rate))
            if not c:
                continue
            s = summ(c["gbps"])
            ratio = s["median"] / base["median"] if base["median"] else None
            g, thr = goals[rate]
            cpu = summ(c.get("cpu_s_per_gb", []))
            cpu_note = ""
            if cpu and base_cpu and base_cpu["median"]:
                cpu_note = (f"; CPU s per GB moved {cpu['median']:.3f} vs unhooked {base_cpu['median']:.3f} "
                            f"({cpu['median'] / base_cpu['median']:.3f}x)")
            F.add(4, f"pod-to-pod TCP 1:{rate} ({label} mirror)", "Gbit/s (iperf3)", s, "no agent (unhooked)", base,
                  ratio, g, None if thr is None else ratio >= thr,
                  f"{j['rounds']} rotated rounds x {j['seconds']} s; samples delivered "
                  f"{c['delivered']}, lost {c['lost']}" + cpu_note +
                  ("; hooks attached, almost nothing sampled: the hooks' own cost" if rate == 1000000 else "") +
                  ("; the default rung" if backend == "afxdp" and rate in (1, 100) else "") +
                  ("; `backend: afpacket`: the socket truncates, the clone is not copied" if backend == "tpacket"
                   and rate in (1, 100) else ""))
            groups.append(f"{'TP ' if backend == 'tpacket' else ''}1:{rate}")
            vals.append(s)
    bar_plot(os.path.join(out, "datapath.png"), "Pod-to-pod iperf3 through hooked veths (TP = TPACKET_V3 mirror)",
             "Gbit/s", groups, [("throughput", vals)])
    return ["datapath.png"]


def scrape_note(s):
    if "scrape_gzip_wall_ms" not in s:
        return ""
    med = statistics.median
    share = med([c / w for c, w in zip(s["scrape_cpu_ms"], s["scrape_wall_ms"]) if w > 0])
    return (f"; every series grew before each scrape; CPU/wall {share:.2f}; "
            f"gzip (as Prometheus asks) {fmt(med(s['scrape_gzip_wall_ms']))} ms wall, "
            f"{fmt(med(s['scrape_gzip_cpu_ms']))} ms CPU, {s['gzip_bytes']} bytes; "
            f"second scrape of unchanged data {fmt(med(s['scrape_cached_wall_ms']))} ms")


def metrics(raw, out, F, status):
    j = load(raw, "metrics_bench.json")
    if not j:
        for s in ("1k", "10k"):
            F.missing(6, f"/metrics scrape {s} series", "<= 50 ms at 10k", status("metrics_bench"))
        return None
    groups, sc, se, sp = [], [], [], []
    for s in j["sizes"]:
        n = s["series"]
        label = f"{n // 1000}k"
        a, b, c = summ(s["scrape_wall_ms"]), summ(s["serialize_wall_ms"]), summ(s["snprintf_wall_ms"])
        cpu = summ(s["scrape_cpu_ms"])
        F.add(6, f"/metrics scrape {label} series", "wall ms (GET over loopback)", a, "prometheus-cpp serializer",
              b, a["median"] / b["median"] if b["median"] else None, "<= 50 ms" if n == 10000 else None,
              a["median"] <= 50 if n == 10000 else None,
              f"{j['rounds']} rounds; {s['bytes']} bytes; scrape CPU {fmt(cpu['median'])} ms; "
              f"snprintf floor {fmt(c['median'])} ms" + scrape_note(s))
        F.add(6, f"/metrics scrape {label} series", "CPU ms (client + server threads)", cpu,
              "prometheus-cpp serializer", summ(s["serialize_cpu_ms"]),
              cpu["median"] / statistics.median(s["serialize_cpu_ms"]) if statistics.median(s["serialize_cpu_ms"])
              else None, None, None, "informational: steadier than wall time on a shared machine")
        groups.append(label)
        sc.append(a)
        se.append(b)
        sp.append(c)
    bar_plot(os.path.join(out, "metrics.png"), "/metrics scrape time", "ms (wall)", groups,
             [("scrape (HTTP)", sc), ("prometheus-cpp serialize", se), ("snprintf floor", sp)])
    return ["metrics.png"]


def k8s(raw, out, F, status):
    j = load(raw, "k8s_list_bench.json")
    if not j:
        return None
    s, d = summ(j["sax_ms"]), summ(j["dom_ms"])
    F.add("-", f"k8s PodList parse ({j['pods']} pods)", "ms", s, "nlohmann DOM", d,
          s["median"] / d["median"] if d["median"] else None, None, None,
          f"informational (no goal); peak heap SAX {fmt(j['sax_peak_heap'])}B vs DOM {fmt(j['dom_peak_heap'])}B")
    return None


def k8s_scale(raw, out, F, status):
    """Kubernetes API load per agent (bench/k8s_scale_bench.cpp): netring's
    node-scoped watch + lookups against the every-pod reference, same churn."""
    j = load(raw, "k8s_scale_bench.json")
    goal_row = "k8s API load: bytes per agent per pod event"
    if not j:
        F.missing(10, goal_row, ">= 10x fewer", status("k8s_scale_bench"))
        return None
    ref, net = j["modes"]["reference"], j["modes"]["netring"]
    scale = f"{j['pods']} pods, {j['services']} services, {j['nodes']} nodes, {j['churn_events_per_s']:g} pod events/s"
    rb, nb = summ(ref["bytes_per_pod_event"]), summ(net["bytes_per_pod_event"])
    ratio = j.get("ratio_bytes_per_pod_event")
    F.add(10, goal_row, "B per cluster pod event", nb, "every pod watched", rb,
          1 / ratio if ratio else None, "<= 0.1x", bool(ratio) and ratio >= 10,
          f"{scale}; {j['agents']} netring + {j['ref_agents']} reference agents side by side, windows of one lookup "
          f"TTL ({j['lookup_ttl_s']} s; the agent's default 5 min refreshes 10x less); ratio from the means over all "
          f"windows: reference/netring {ratio:.1f}x" if ratio else scale)
    F.add(10, "k8s API load: bytes received per agent", "B/s", summ(net["bytes_per_s"]), "every pod watched",
          summ(ref["bytes_per_s"]), None, None, None,
          f"API server for {j['extrapolate_agents']} agents: netring "
          f"{fmt(net['api_server_bytes_per_s_extrapolated'])}B/s, reference "
          f"{fmt(ref['api_server_bytes_per_s_extrapolated'])}B/s")
    F.add(10, "k8s API load: objects received per agent", "objects/s", summ(net["objects_per_s"]),
          "every pod watched", summ(ref["objects_per_s"]), None, None, None, "list/stream items, events, lookup answers")
    F.add(10, "k8s API load: CPU per cluster pod event", "us", summ(net["cpu_us_per_pod_event"]), "every pod watched",
          summ(ref["cpu_us_per_pod_event"]), None, None, None, "the agent's watch and lookup threads")
    rss = summ([x / 2**20 for x in net["rss_bytes"]])
    F.add(10, f"k8s agent memory at {j['pods']} pods", "RSS MiB (k8s side alone)", rss, "every pod watched",
          summ([x / 2**20 for x in ref["rss_bytes"]]), None, "<= 64 MiB", rss is not None and rss["max"] <= 64,
          f"a process running only the agent's Kubernetes side after sync and naming its peers; heap kept netring "
          f"{fmt(statistics.median(net['index_heap_bytes']))}B, reference "
          f"{fmt(statistics.median(ref['index_heap_bytes']))}B")
    right = summ(net["correct_pct"])
    F.add(10, "k8s names: peers answered right", "%", right, "every pod watched", summ(ref["correct_pct"]), None,
          None, None, f"unknown netring {fmt(statistics.median(net['unknown_pct']))}% (new peers until looked up), "
                      f"wrong netring {fmt(statistics.median(net['wrong_pct']))}%")
    return None


def series(raw, out, F, status):
    """Prometheus series one agent exports per label level (bench/series_bench.cpp)."""
    j = load(raw, "series_bench.json")
    if not j:
        return None
    for level in ("node", "namespace", "workload", "pod"):
        v = j[level]
        F.add("-", f"series per node, --label-level={level}", "series on /metrics", {"median": v["all_series"]}, "",
              None, None, None, None, f"{v['flow_series']} flow series; {fmt(v['exposition_bytes'])}B exposition; "
              f"model: {j['local_pods']} pods, {j['flows']} flows (doc/scaling.md)")
    return None


def ipfix(raw, out, F, status):
    j = load(raw, "ipfix_bench.json")
    if not j:
        F.missing("-", "IPFIX export CPU", "informational", status("ipfix_bench"))
        return None
    n, f = summ(j["netring_ms_per_1000_flows"]), summ(j["floor_ms_per_1000_flows"])
    F.add("-", f"IPFIX export ({j['flows']} ended flows a round)", "CPU ms per 1,000 flows (= ms/s at 1,000 flows/s)",
          n, "send-only floor (same datagrams, pre-encoded)", f, n["median"] / f["median"] if f["median"] else None,
          None, None, f"informational (no goal); {j['rounds']} rounds; {j['messages_per_round']:.0f} messages of "
          f"{j['message_bytes']} B a round; every field group, both pods' names")
    return None


def agent_figures(raw, F):
    """Figures 5 and 7 need the running agent; bench/run writes their JSON
    only when it can drive one."""
    why = "agent not integrated (bench drivers for these need agent/agent.cpp run_agent on main)"
    no_driver = "no bench driver yet (the agent reached main at 14:00 UTC, too late for this report)"
    al = load(raw, "agent_load.json")
    if not al or not al.get("levels"):
        F.missing(5, "agent CPU/RSS at 1k/10k/100k flows", "RSS excl. UMEM <= 64 MiB at 100k",
                  "agent_load.sh produced no measurement (see raw/agent_load.log)" if load(raw, "agent_load.status")
                  else no_driver)
    else:
        umem_mib = al["umem_bytes"] / 2**20
        per_worker = ", ".join(f"{b / 2**20:.1f}" for b in al.get("umem_bytes_per_worker", []))
        for lv in al["levels"]:
            n = lv["flows"]
            label = f"{n // 1000}k"
            found = lv.get("umem_found_by", "smaps")
            F.add(5, f"agent at {label} flows (generated)", "RSS excl. UMEM, MiB", {"median": lv["rss_excl_umem_mib"]},
                  "", None, None, "<= 64 MiB" if n == 100000 else None,
                  lv["rss_excl_umem_mib"] <= 64 if n == 100000 else None,
                  (f"commit {al['commit']}; " if al.get("commit") else "")
                  + f"one measurement; active flows {lv['active_flows']}; agent CPU {lv['cpu_cores']:.2f} cores at "
                  f"{fmt(lv['gen_pps'])} pkt/s sampled 1:1; UMEM {umem_mib:.1f} MiB"
                  + (f" ({per_worker} MiB per worker)" if per_worker else "")
                  + f", {al['workers']} workers, {lv['umem_rss_kib'] / 1024:.1f} MiB resident (found by {found}); "
                  f"VmRSS {lv['rss_kib'] / 1024:.1f} MiB incl. UMEM"
                  + (f" (median of {lv['rss_samples']} samples, max {lv['rss_max_kib'] / 1024:.1f})"
                     if lv.get("rss_samples") else "")
                  + (f", peak {lv['hwm_kib'] / 1024:.1f} MiB" if lv.get("hwm_kib") else "")
                  + (f"; flow table {al['flow_table_bytes'] / 2**20:.1f} MiB (fixed, --flow-table-size)"
                     if al.get("flow_table_bytes") else "")
                  + ("; UMEM mapping not identified in smaps, so the figure still includes it"
                     if lv["umem_rss_kib"] == 0 and al["umem_bytes"] else ""))
    hp = load(raw, "hotplug.json")
    if not hp or not hp.get("appeared_to_hooked_ms"):
        F.missing(7, "hot-plug: veth appears -> first sample", "<= 100 ms",
                  "hotplug.sh produced no measurement (see raw/hotplug.log)" if hp or load(raw, "hotplug.status")
                  else why)
    else:
        s = summ(hp["appeared_to_hooked_ms"])
        F.add(7, "hot-plug: CNI pod veth appears -> agent hooks it", "ms", s, "", None, None, "<= 100 ms",
              s["max"] <= 100 and not hp["not_hooked"],
              f"{hp['measured']} of {hp['trials']} pods added while the agent ran; RTM_NEWLINK (ip -ts monitor) to the "
              f"'interface hooked' log line; goal judged on the max; not hooked: {len(hp['not_hooked'])}; the first "
              "sample is the next packet after the hook (sample rate 1), not timed separately")


def accuracy(raw, out, F, status):
    """Figure 8: the agent's L3 byte estimate per flow direction vs conntrack's
    accounting (bench/accuracy.sh)."""
    j = load(raw, "accuracy.json")
    if not j or not j.get("summary"):
        F.missing(8, "accuracy vs conntrack at 1:1/1:10/1:100", "99% interval covers truth >= 98%; "
                  "±5% at 1:100 for >= 1 GB; exact at 1:1", status("accuracy"))
        return None
    summ_ = j["summary"]
    cases = j["cases"]

    def lossless_note(s):
        if not s["lost_samples"]:
            return "no sample lost"
        return (f"{s['lost_samples']} samples lost in {s['lossy_rounds']} round(s); rounds without loss: "
                f"{s['lossless_inside']} of {s['lossless']} inside")
    rates = sorted(summ_, key=int)
    for rate in rates:
        s = summ_[rate]
        if s["coverage"] is None:
            continue
        F.add(8, f"accuracy 1:{rate}: truth inside 99% interval", "share of flow directions",
              {"median": 100 * s["coverage"]}, "", None, None, ">= 98%", s["coverage"] >= 0.98,
              f"{s['inside']} of {s['judged']} directions (conntrack L3 bytes, sender's netns) over "
              f"{j['rounds_per_rate']} rounds x 4 pairs; {s['unseen_small']} directions never sampled and "
              f"under 10 N skbs left out; "
              f"{lossless_note(s)}")
    s100 = summ_.get("100")
    if s100:
        e = s100["big_max_abs_rel_error"]
        F.add(8, "accuracy 1:100, flows >= 1 GB", "largest relative error, %",
              None if e is None else {"median": 100 * e}, "", None, None, "<= 5%",
              None if e is None else e <= 0.05, f"{s100['big_flows']} directions of >= 1 GiB" + (
                  "" if not s100["lost_samples"] else f"; {s100['lost_samples']} samples lost in "
                  f"{s100['lossy_rounds']} round(s), largest error in rounds without loss "
                  f"{100 * (s100['big_max_abs_rel_error_lossless'] or 0):.2f}%"))
    s1 = summ_.get("1")
    if s1:
        F.add(8, "accuracy 1:1, exact when nothing lost", "exact / lossless directions",
              {"median": s1["exact_lossless"]}, "", None, None, "all exact", 
              s1["lossless"] > 0 and s1["exact_lossless"] == s1["lossless"],
              f"{s1['exact_lossless']} of {s1['lossless']} directions of rounds without a lost sample exact to the "
              f"byte; {s1['exact']} of {s1['judged']} overall (samples lost at 1:1: {s1['lost_samples']})")
    # Left: relative error against the direction's size. Right: the error in
    # units of the reported 99% half-width (inside the interval = within ±1).
    fig, (ax, az) = plt.subplots(1, 2, figsize=(11, 4.2))
    for rate, colour in zip(rates, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        pts = [c for c in cases if str(c["rate"]) == rate and c.get("truth_bytes") and c.get("seen")]
        if not pts:
            continue
        xs = [c["truth_bytes"] for c in pts]
        ax.scatter(xs, [100 * c["rel_error"] for c in pts], s=9, color=colour, alpha=0.6, label=f"1:{rate}")
        zs = []
        for c in pts:
            half = (c["ci99"][1] - c["ci99"][0]) / 2
            d = c["estimate"] - c["truth_bytes"]
            zs.append(0.0 if d == 0 else max(-4.0, min(4.0, d / half)) if half > 0 else (4.0 if d > 0 else -4.0))
        s_ = summ_[rate]
        az.scatter(xs, zs, s=9, color=colour, alpha=0.6, label=f"1:{rate}: {s_['inside']}/{s_['judged']} inside")
    for y in (-5, 5):
        ax.axhline(y, color="grey", lw=0.6, ls="--")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=5)
    ax.set_xlabel("conntrack L3 bytes of the flow direction")
    ax.set_ylabel("(estimate - truth) / truth, % (symlog)")
    ax.set_title("relative error (dashed: ±5%)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for y in (-1, 1):
        az.axhline(y, color="tab:red", lw=0.8, ls="--")
    az.set_xscale("log")
    az.set_ylim(-4.3, 4.3)
    az.set_xlabel("conntrack L3 bytes of the flow direction")
    az.set_ylabel("(estimate - truth) / 99% half-width (clipped at ±4)")
    az.set_title("error in units of the reported 99% interval (inside: within ±1)", fontsize=10)
    az.legend(fontsize=8)
    az.grid(alpha=0.3)
    fig.suptitle("Figure 8: netring byte estimate per flow direction vs conntrack accounting", fontsize=11)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy.png"), dpi=90)
    plt.close(fig)
    return ["accuracy.png"]


# ---- figure 9: cost to pods, netring vs NetObserv (bench/pod_cost.sh) ----

POD_COST_GOALS = {  # goal text of pod_cost.py -> (row name, agent key, reference key, reference label)
    "netring default: extra CPU <= 1.0x NetObserv sampling 50's":
        ("pods: netring default, extra CPU over unhooked", "netring-default", "netobserv-50",
         "NetObserv sampling 50 (its default)"),
    "netring most detailed: extra CPU <= 1.0x NetObserv sampling 1's":
        ("pods: netring most detailed, extra CPU over unhooked", "netring-detailed", "netobserv-1",
         "NetObserv sampling 1"),
    "AF_XDP rung at --sample-rate=1: CPU per GB <= 1.15x unhooked":
        ("pods: netring --sample-rate=1 (AF_XDP), CPU per GB", "netring-rate1", "unhooked", "unhooked"),
}


def pod_cost(raw, out, F, status):
    """Figure 9: the goals of issue 13 as rows, and two plots (CPU and delivered rate vs unhooked)."""
    j = load(raw, "pod_cost.json")
    if not j:
        for name, _, _, _ in POD_COST_GOALS.values():
            F.missing(9, name, "see issue 13", status("pod_cost"))
        return None
    res = j["results"]
    wl = {"tcp": "bulk TCP", "udp": f"{j['size']} B UDP, {j['flows']} flows"}
    for g in j["goals"]:
        name, key, ref, ref_label = POD_COST_GOALS[g["goal"]]
        m = "cpu_s_per_gb" if "per GB" in g["metric"] else "cpu_s_per_mpkt"
        rw = res.get(g["workload"], {})
        if ref == "unhooked":
            mine, theirs = rw.get(key, {}).get(m), rw.get(ref, {}).get(m)
            metric = "busy CPU s " + ("per GB" if m == "cpu_s_per_gb" else "per Mpkt")
        else:
            mine, theirs = rw.get(key, {}).get("extra_" + m), rw.get(ref, {}).get("extra_" + m)
            metric = "extra busy CPU s " + ("per GB" if m == "cpu_s_per_gb" else "per Mpkt")
        goal = f"<= {g['limit']}x"
        note = (f"commit {j.get('commit', '?')}; {j['rounds']} rotated rounds x {j['seconds']} s"
                + ("" if ref == "unhooked" else "; extra = minus unhooked of the same round"))
        if g["ratio"] is not None and "rounds_paired" not in g and not g.get("informational"):
            # A JSON written before pod_cost.py judged the noise: judged here from its rounds.
            pod_cost_py.judge_noise(g, pod_cost_py.round_pairs(j["runs"], g["workload"], key, ref, m))
        if pod_cost_py.noise_text(g) and not g.get("informational"):
            note += "; " + pod_cost_py.noise_text(g)
        if g.get("informational"):
            goal, note = None, note + "; informational (the goal's figure is bulk TCP's)"
        if g["ratio"] is None:
            F.add(9, f"{name} ({wl[g['workload']]})", metric, mine, ref_label if theirs else "", theirs, None,
                  goal, None, "not measured: " + g["note"] if not (mine and theirs) else g["note"])
            continue
        F.add(9, f"{name} ({wl[g['workload']]})", metric, mine, ref_label, theirs, g["ratio"], goal, g["met"], note,
              undecided=not g.get("decided", True))
    configs = [c for c in j["configs"] if not c.get("why")]
    groups = [c["short"] for c in configs]
    plots = []
    for fname, title, metrics in (
            ("pod_cost_cpu.png", "Figure 9: busy CPU of the machine per unit moved, vs unhooked (same round)",
             (("bulk TCP, per GB", "tcp", "cpu_s_per_gb_vs_unhooked_paired"),
              (wl["udp"] + ", per Mpkt", "udp", "cpu_s_per_mpkt_vs_unhooked_paired"))),
            ("pod_cost_rate.png", "Figure 9: delivered to the receiver pod, vs unhooked (same round)",
             (("bulk TCP, Gbit/s", "tcp", "gbps_vs_unhooked_paired"),
              (wl["udp"] + ", packets/s", "udp", "pps_vs_unhooked_paired")))):
        series = [(label, [res.get(w, {}).get(c["key"], {}).get(m) for c in configs])
                  for label, w, m in metrics if w in res]
        if series:
            bar_plot(os.path.join(out, fname), title, "ratio to unhooked", groups, series)
            plots.append(fname)
    return plots


def flow_program(raw, out, F, status):
    """Figure 9's programs alone: kernel ns per packet over the same frames (bench/flow_program_bench.cpp), on
    its UDP frames and on its bulk TCP ones (--workload tcp)."""
    for run, what in (("flow_program_bench", "64 B UDP"),
                      ("flow_program_bench+tcp", "bulk TCP: a 44-segment skb and its ACK, handshakes recent")):
        flow_program_run(raw, F, status, run, what)
    return None


def flow_program_run(raw, F, status, run, what):
    j = load(raw, run + ".json")
    if not j:
        F.missing(9, f"flow programs alone, ns per packet ({what})", "informational", status(run))
        return
    sides = j["sides"]
    for key, ref in (("netring-default", "netobserv-50"), ("netring-detailed", "netobserv-1")):
        mine, theirs = sides.get(key, {}), sides.get(ref, {})
        name = f"flow programs alone: {mine.get('label', key)} ({j['flows']} flows, {what})"
        if "rounds_total_ns" not in mine or "rounds_total_ns" not in theirs:
            F.missing(9, name, "informational", mine.get("not_measured") or theirs.get("not_measured") or "no figure")
            continue
        F.add(9, name, "kernel ns per packet (ingress + egress), BPF_PROG_TEST_RUN", summ(mine["rounds_total_ns"]),
              theirs["label"], summ(theirs["rounds_total_ns"]), j["ratios"].get(f"{key}/{ref}"), None, None,
              f"informational; {j['rounds']} rounds x {j['passes']} passes, each run a system call of its own "
              f"(colder than under traffic), net of an empty program ({j['empty_program_ns']:.0f} ns a run); "
              f"warm (one frame run {j['warm_repeat']} times a call): {mine['warm_total_ns']:.0f} ns against "
              f"{theirs['warm_total_ns']:.0f}, {fmt(j['warm_ratios'].get(f'{key}/{ref}'))}x; ratios = median of "
              "the rounds' ratios; no drop tracer"
              + (f"; {mine['inserts_per_100_counted']:.0f} % of netring's counted cold runs inserted their flow "
                 "(the agent empties its map every second; about 1 % under figure 9's traffic): cold is netring's "
                 "upper bound, warm its lower" if mine.get("inserts_per_100_counted") else ""))


def pod_cost_section(raw):
    """REPORT.md lines: figure 9's whole table as pod_cost.py printed it, or why it is missing."""
    j = load(raw, "pod_cost.json")
    L = ["## Figure 9: cost to pods, netring vs NetObserv (issue 13)", ""]
    if not j:
        return L + ["Not measured: bench/pod_cost.sh wrote no JSON (see raw/pod_cost.log).", ""]
    L.append(f"From commit `{j.get('commit', '?')}` ({j.get('agent_version', '')}), {j['rounds']} rotated rounds, "
             f"{j['seconds']} s per workload, NetObserv's kernel program from `{j.get('netobserv_src', '?')}`. "
             "Two CNI bridge pods; every configuration once per round against unhooked in the same round. "
             "Plots: `pod_cost_cpu.png`, `pod_cost_rate.png`.")
    L.append("")
    L.append("```")
    L += j["table"].splitlines()
    L.append("```")
    if j.get("errors"):
        L.append("")
        L.append(f"{len(j['errors'])} runs failed:")
        L += [f"- round {e['round']} {e['config']}: {e['error']}" for e in j["errors"]]
    L.append("")
    return L


def reliability_section(raw):
    """REPORT.md lines: e2e/reliability.sh's figures (churn, SIGKILLs, overload,
    hostile input, faults, soak), each with the command that produced it."""
    j = load(raw, "reliability.json")
    L = ["## Reliability: churn, overload, faults and hostile input (issue 18)", ""]
    if not j:
        st = load(raw, "reliability.status")
        why = f"e2e/reliability.sh exited {st['rc']} (see raw/reliability.log)" if st else "not run (--reliability=off)"
        return L + [f"Not measured: {why}.", ""]
    L.append(f"Profile `{j.get('profile')}` from commit `{j.get('commit', '?')}` on kernel {j.get('kernel', '?')} at "
             f"{j.get('when', '?')}. Pods made by the real CNI bridge plugin in a node namespace; ground truth from "
             "ping's own counts, iperf3's exit status, /proc and bpftool.")
    st = load(raw, "reliability.status") or {}
    if st.get("note"):
        L.append("")
        L.append(f"*{st['note']}*")
    L.append("")
    c = j.get("churn")
    if c:
        L.append(f"**Churn** (`{c['command']}`): {c['cycles']} pods created and deleted in {c['seconds']} s while "
                 f"a ping ran ({c['ping_sent']} sent, 0 lost); {c['hooked']} interfaces hooked, every deleted pod's "
                 "series gone after the grace period. Slopes over the steady part (after the first fifth):")
        L.append("")
        L.append("| resource | first | last | max | slope per 1,000 cycles |")
        L.append("|---|---|---|---|---|")
        for name, r in c["resources"].items():
            L.append(f"| {name} | {r['first']:g} | {r['last']:g} | {r['max']:g} | {r['slope_per_1000']:+.3g} |")
        L.append("")
    k = j.get("kill")
    if k:
        L.append(f"**SIGKILL** (`{k['command']}`): {k['kills']} SIGKILLs, one every {k['every_s']} s, under iperf3 and a "
                 f"ping every 10 ms: {k['ping_sent']} echo requests, {k['ping_lost']} lost; iperf3 completed; one hook "
                 "per interface and direction and one mirror link at the end.")
        L.append("")
    o = j.get("overload")
    if o:
        load_x = o["samples_offered"] / o["samples_received"] if o.get("samples_received") else 0
        flood = f" ({o['flood_pps']:,.0f} packets/s from bench/pod_udp_gen)" if o.get("flood_pps") else ""
        L.append(f"**Overload** (`{o['command']}`): {o['seconds']} s of 64-byte UDP floods{flood} at sample rate 1 on one "
                 f"worker: samples offered {o['samples_offered']:,}, received {o['samples_received']:,}, lost "
                 f"{o['samples_lost']:,} (offered {load_x:.2f}x what was consumed), every loss counted by stage; "
                 f"/healthz at most {o['healthz_max_ms']} ms, /metrics at most {o['metrics_max_ms']} ms (goal: 100 ms; "
                 f"CPU limit {o.get('cpu_limit', 'none')}); RSS at most "
                 f"{o['rss_max_mib']} MiB (the chart's limit {o['memory_limit_mib']} MiB); ping {o['ping_sent']} sent, "
                 "0 lost, and an iperf3 transfer through the flood completed; no sample lost once the flood ended.")
        L.append("")
    h = j.get("hostile")
    if h:
        L.append(f"**Hostile input** (`{h['command']}`): {h['bad_requests']} bad requests, each a 4xx JSON answer; "
                 f"{h['random_requests']} random requests (answers by status: {h['random_answers']}); "
                 f"{h['stalled_per_port']} stalled half-requests per port and follow streams ({h['follows']}) held "
                 f"open at once: /healthz at most {h['healthz_max_ms']} ms, threads {h['threads']['before']} -> "
                 f"{h['threads']['under_load']}; a capture client that stops reading ends at its duration; a "
                 "malformed PodList keeps the last good names.")
        L.append("")
    f = j.get("faults")
    if f:
        L.append(f"**Faults** (`{f['command']}`): the mirror link deleted by someone else: {f['mirror_deleted']}, "
                 f"pods lost nothing; bpffs not mounted: {json.dumps(f['no_bpffs'])}.")
        if f.get("no_conntrack"):
            L[-1] += (" Conntrack unavailable (as on a kernel without netfilter netlink): pods lost nothing, flows "
                      f"named, the status's fallback {json.dumps(f['no_conntrack'])}.")
        L.append("")
    a = j.get("kubeapi")
    if a:
        L.append(f"**Kubernetes API faults** (`{a['command']}`, the fake API server: no real one runs here): "
                 f"answering 500s, {a['errors_500']} failed watch requests, resumed without a relist; "
                 f"{a['storm_compactions']} compactions under open watches (410 Gone), {a['storm_relists']} relists; "
                 f"every answer {a['slow_answer_ms']} ms late, the pods watch back in {a['slow_reconnect_s']} s; down "
                 f"(connections refused) for {a['down_s']} s: {a['down_tries']} failed tries over {a['watches']} "
                 f"watches (exponential backoff), watch_up 0 meanwhile, back {a['back_s']} s after the API was; "
                 f"{a['named_flows']} new flows named throughout, and a pod added while the API was down named "
                 "once it was back.")
        L.append("")
    s = j.get("soak")
    if s:
        r = s["rss_kb"]
        L.append(f"**Soak** (`{s['command']}`): {s['seconds']} s at the default sample rate with iperf3, a ping and "
                 f"short connections: agent CPU {s['cpu_cores']} cores, RSS {r['first']:g} -> {r['last']:g} kB (max "
                 f"{r['max']:g}, slope {r['slope_kb_per_s']:+.3g} kB/s), samples lost {s['samples_lost']}; at the end a pod "
                 f"veth's {s['exact_bytes']:,} bytes both ways counted exactly (its kernel counters).")
        L.append("")
    return L


def summary_plot(path, rows):
    """One bar per goal row: how far netring is from its goal (>1 = better than the goal)."""
    items = []
    for r in rows:
        if r["met"] is None or r["ratio"] is None or not r["goal"]:
            continue
        g = r["goal"]
        if g.startswith(">= ") and g[3:].split("x")[0].replace(".", "").isdigit():
            items.append((f"{r['figure']} {r['name']} ({r['metric']})", r["ratio"] / float(g[3:].split("x")[0]), r))
        elif g.startswith("<= ") and g[3:].split("x")[0].replace(".", "").isdigit() and "x" in g:
            items.append((f"{r['figure']} {r['name']} ({r['metric']})", float(g[3:].split("x")[0]) / r["ratio"], r))
        elif g == "<= 50 ms" and r["netring"]:
            items.append((f"{r['figure']} {r['name']} ({r['metric']})", 50.0 / r["netring"]["median"], r))
    if not items:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(items) + 1.2))
    ys = range(len(items))
    ax.barh(list(ys), [v for _, v, _ in items], color=["tab:green" if r["met"] else "tab:red" for _, _, r in items])
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(list(ys))
    ax.set_yticklabels([n for n, _, _ in items], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("measured / goal (ratio goals and the 50 ms scrape goal; > 1 = goal met)")
    ax.set_title("netring against its goals (green met, red missed)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return os.path.basename(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    raw, out = a.raw, a.out
    os.makedirs(out, exist_ok=True)

    def status(name):
        st = load(raw, name + ".status")
        if st is None:
            return f"{name} did not run"
        if st["rc"] != 0:
            return f"{name} exited {st['rc']} (see raw/{name}.log)"
        return f"{name} wrote no JSON"

    F = Figures()
    plots = []
    for fn in (afxdp, tpacket, flow, datapath, metrics, k8s, k8s_scale, series, ipfix, accuracy, pod_cost, flow_program,
               capture_port):
        try:
            p = fn(raw, out, F, status)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
            print(f"report.py: {fn.__name__}: unexpected JSON ({e!r})", file=sys.stderr)
            p = None
        plots += p or []
    agent_figures(raw, F)
    F.rows.sort(key=lambda r: (str(r["figure"]) == "-", int(r["figure"]) if str(r["figure"]).isdigit() else 0))
    sp = summary_plot(os.path.join(out, "summary.png"), F.rows)
    if sp:
        plots.insert(0, sp)

    machine = load(raw, "machine.json") or {}
    start, end = load(raw, "machine_start.json") or {}, load(raw, "machine_end.json") or {}
    statuses = {}
    for name in ("afxdp_bench", "tpacket_bench", "flow_bench", "datapath_bench", "metrics_bench",
                 "k8s_list_bench", "k8s_scale_bench", "series_bench", "ipfix_bench", "hotplug", "agent_load",
                 "accuracy", "pod_cost", "flow_program_bench", "flow_program_bench+tcp", "capture_port_bench"):
        statuses[name] = load(raw, name + ".status")
    raws = {}
    for name in sorted(os.listdir(raw)):
        if name.endswith(".json") and not name.startswith("machine"):
            raws[name[:-5]] = load(raw, name)

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": machine, "load_start": start, "load_end": end, "runs": statuses,
                   "figures": F.rows, "raw": raws}, f, indent=1)

    met = sum(1 for r in F.rows if r["met"] is True)
    missed = [r for r in F.rows if r["met"] is False]
    unmeasured = [r for r in F.rows if r["note"].startswith("not measured")]
    L = []
    L.append("# netring performance report")
    L.append("")
    L.append("Generated by `bench/run`" + (" --quick (a short, noisy pass)" if machine.get("quick") else "")
             + f" at {start.get('when', '?')} from commit `{machine.get('commit', '?')}`. "
             "Every figure is measured side by side with its reference in the same run, alternating A/B; "
             "values are median [min..max] of the rounds; ratio = netring / reference.")
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append(f"- CPU: {machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores; "
             f"memory {int(machine.get('memory_kib', 0)) // 1024} MiB")
    L.append(f"- Kernel: {machine.get('kernel', '?')} ({machine.get('os', '?')})")
    L.append(f"- Load average (1/5/15 min): {start.get('loadavg', '?')} at start, {end.get('loadavg', '?')} at end "
             f"({start.get('when', '?')} .. {end.get('when', '?')})")
    L.append(f"- Busiest processes at start (%CPU command): {', '.join(start.get('top', [])[:5])}")
    L.append("")
    # Busy before the run = someone else's work: the 1-minute load average at
    # start, or other processes' CPU at start. The load during the run also
    # counts the benchmarks' own threads (generators, iperf3), so it cannot
    # say alone whether others were running.
    try:
        load_start = float(start.get("loadavg", "0").split()[0])
        load_end = float(end.get("loadavg", "0").split()[0])
    except ValueError:
        load_start = load_end = 0
    others_cpu = 0.0
    for t in start.get("top", []):
        try:
            others_cpu += float(t.split()[0])
        except (ValueError, IndexError):
            pass
    cores = float(machine.get("cores", 2) or 2)
    if load_start >= 0.75 * cores or others_cpu >= 50:
        L.append(f"**The machine was shared and loaded during this run** (load average {load_start:.2f} at start, "
                 f"up to {max(load_start, load_end):.2f}, on {machine.get('cores', '?')} cores; other processes "
                 f"{others_cpu:.0f}% CPU at start). Both sides of each comparison saw the same load because they "
                 "alternate, so ratios are more trustworthy than absolute rates; absolute rates and the min..max "
                 "spread are depressed and widened by the load.")
    else:
        L.append(f"No other work was running when the benchmarks started (other processes {others_cpu:.0f}% CPU; "
                 f"the 1-minute load average of {load_start:.2f} still counts bench/run's own build just before); "
                 "the load during the run is the benchmarks' own.")
    L.append("")
    undecided = sum(1 for r in F.rows if r["undecided"])
    judged = sum(1 for r in F.rows if r["figure"] == 9 and r["met"] is not None)
    L.append(f"## Summary: {met} goals met, {len(missed)} missed, {len(unmeasured)} figures not measured")
    if undecided:
        L.append("")
        L.append(f"{undecided} of figure 9's {judged} verdicts are within their run's noise: the ratio's "
                 f"{pod_cost_py.INTERVAL_LEVEL:.0%} interval over the rounds (a bootstrap, each round's pair kept "
                 "together) holds the limit, or the reference adds too little over unhooked for a ratio to it to mean "
                 "anything. Such a goal is met or missed by this run's median only; another run may say the opposite.")
    L.append("")
    L.append("| # | figure | metric | netring | reference | ratio | goal | result | notes |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in F.rows:
        result = {True: "**met**", False: "**MISSED**", None: "—"}[r["met"]]
        if r["undecided"]:
            result += " (within noise)"
        if r["note"].startswith("not measured"):
            result = "not measured"
        ref = f"{r['reference_name']}: {fmt_s(r['reference'])}" if r["reference_name"] else "—"
        ratio = f"{r['ratio']:.3f}x" if r["ratio"] is not None else "—"
        L.append(f"| {r['figure']} | {r['name']} | {r['metric'] or '—'} | {fmt_s(r['netring'])} | {ref} | {ratio} | "
                 f"{r['goal'] or '—'} | {result} | {r['note']} |")
    L.append("")
    if missed:
        L.append("## Goals missed")
        L.append("")
        for r in missed:
            L.append(f"- Figure {r['figure']}, {r['name']} ({r['metric']}): netring {fmt_s(r['netring'])}, "
                     f"reference {fmt_s(r['reference'])}, ratio "
                     f"{'%.3fx' % r['ratio'] if r['ratio'] is not None else '—'}; goal {r['goal']}"
                     + (" (within this run's noise)." if r["undecided"] else "."))
        L.append("")
        explain = os.path.join(out, "ANALYSIS.md")
        if os.path.exists(explain):
            L.append("Why: see [ANALYSIS.md](ANALYSIS.md).")
            L.append("")
    L += pod_cost_section(raw)
    L += reliability_section(raw)
    L.append("## Plots")
    L.append("")
    for p in plots:
        L.append(f"![{p}]({p})")
        L.append("")
    L.append("## Runs")
    L.append("")
    L.append("| benchmark | arguments | exit | seconds |")
    L.append("|---|---|---|---|")
    for name, st in statuses.items():
        if st:
            L.append(f"| {name} | `{st['args']}` | {st['rc']} | {st['seconds']} |")
        else:
            L.append(f"| {name} | — | did not run | — |")
    L.append("")
    L.append("Raw console output and JSON of each benchmark: `bench/results/raw/` (not committed; rerun "
             "`bench/run`). Every number above is also in `results.json`.")
    with open(os.path.join(out, "REPORT.md"), "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
