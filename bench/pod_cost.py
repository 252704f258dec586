#!/usr/bin/env python3
"""The measuring half of bench/pod_cost.sh (figure 9, issue 13): what an
agent watching two pods costs them, netring against NetObserv's eBPF kernel
program, on the same pods in the same rotated rounds.

pod_cost.sh makes the pods and calls this with --setup FILE (the pods'
namespaces, addresses and host-side veths); it removes them afterwards.

Per configuration and workload, from the rounds (median [min..max]):
  - delivered: Gbit/s (iperf3's receiver) or packets/s (counted by the drop
    rule in the receiver pod)
  - busy CPU of the whole machine (/proc/stat user+nice+system+irq+softirq)
    per GB and per million packets, and its ratio to unhooked
  - extra CPU over unhooked, paired by round (config - unhooked of the same
    round), and its ratio to NetObserv sampling 50's and sampling 1's extra
  - the agent process's own CPU (utime/stime of /proc/PID/stat)
Then, apart from the timed rounds, kernel ns per program run of every BPF
program the agent holds (the veths' hooks and netring's mirror programs),
with BPF run-time statistics on, and the goals of issue 13 as ratios with
met/missed.

The netring configurations are the NETRING_CONFIGS table below (key ->
label, flags); --netring KEY=FLAGS adds one for a run.
"""
import argparse
import ctypes
import json
import os
import random
import re
import select
import shlex
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The netring configurations: key -> label, short label (plots), flags, and
# a flag the binary must know for the row to be measured (rows whose flag
# the agent in the tree lacks say so instead of a figure). Add a row here to
# measure another configuration in every run; --netring KEY=FLAGS adds one
# for a single run.
NETRING_CONFIGS = {
    "netring-default": {"label": "netring default", "short": "netring\ndefault", "flags": [], "needs": None},
    "netring-detailed": {"label": "netring most detailed (--exact-flows=all)", "short": "netring\nmost detailed",
                         "flags": ["--exact-flows=all"], "needs": "--exact-flows"},
    # The default with a fixed 1:100 whatever the load (the default before
    # the copy budget): the default against this row is what the budget saves.
    "netring-fixed-rate": {"label": "netring default, --copy-budget=0", "short": "netring\nfixed 1:100",
                           "flags": ["--copy-budget=0"], "needs": "--copy-budget"},
    # The default minus the kernel events (drops on skb:kfree_skb, TCP
    # retransmits): the default row against this one is what they cost. The
    # UDP workload is the worst case for drops: every datagram is dropped
    # (by the receiver's raw-table rule), over 10,000 flows.
    "netring-no-kevents": {"label": "netring default, --drops=off --tcp-retransmits=off",
                           "short": "netring\nno kernel events",
                           "flags": ["--drops=off", "--tcp-retransmits=off"], "needs": "--drops"},
    "netring-rate1": {"label": "netring --sample-rate=1", "short": "netring\nrate 1", "flags": ["--sample-rate=1"],
                      "needs": None},
    "netring-rate1-afpacket": {"label": "netring --sample-rate=1 --backend=afpacket",
                               "short": "netring\nrate 1 afpacket",
                               "flags": ["--sample-rate=1", "--backend=afpacket"], "needs": None},
    # DNS and TCP handshake tracking are on by default: this row is the
    # default without them, so default vs this is what they cost the pods.
    "netring-no-control": {"label": "netring --dns=off --tcp-handshake=off", "short": "netring\nno DNS/TCP ctl",
                           "flags": ["--dns=off", "--tcp-handshake=off"], "needs": "--dns"},
}
# key -> label, short label, sampling. 50 is NetObserv's default.
NETOBSERV_CONFIGS = {
    "netobserv-1": {"label": "NetObserv sampling 1", "short": "NetObserv\nsampling 1", "sampling": 1},
    "netobserv-50": {"label": "NetObserv sampling 50 (its default)", "short": "NetObserv\nsampling 50",
                     "sampling": 50},
}
NETOBSERV_EVICT_SECONDS = 5  # the Go agent's CACHE_ACTIVE_TIMEOUT default
NETOBSERV_MAP_FLOWS = 5000  # its CACHE_MAX_FLOWS default, as nobs_loader sizes aggregated_flows
WORKLOADS = {"tcp": "bulk TCP (iperf3, one stream)", "udp": "64-byte UDP over N flows (AF_XDP generator)"}
UDP_DPORT = 9  # discard: what the receiver pod's sink takes (--udp-sink)
UDP_SINKS = {"consume": "consumed (clsact, TC_ACT_STOLEN)", "drop": "dropped (iptables raw DROP)"}
IPERF_PORT = 5201
BRIDGE_NODE = "bench-node"


class BenchError(Exception):
    pass


class Stop(Exception):
    """SIGTERM: stop, cleaning up what was started."""


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- machine --

def busy_cpu_s():
    """Busy CPU seconds of the whole machine, every CPU (steal and idle not counted)."""
    with open("/proc/stat") as f:
        v = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in v[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    """(user, system) CPU seconds of a process, all its threads; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def run(cmd, timeout=30, check=True):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(cmd)} did not finish within {timeout:.0f} s")
    if check and r.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {r.returncode}: {(r.stderr or r.stdout).strip()[:400]}")
    return r


def in_ns(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def pinned(cpu, cmd):
    """cmd on one CPU (taskset), or as it is when cpu is None."""
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def stop_process(p, name, timeout=15.0):
    """SIGTERM, wait, then SIGKILL; returns the exit status (None if it had to be killed)."""
    if p is None or p.poll() is not None:
        return None if p is None else p.returncode
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"  {name} (pid {p.pid}) ignored SIGTERM for {timeout:.0f} s: killed")
        p.kill()
        p.wait()
        return None


def read_line(p, want, timeout):
    """Reads p's stdout (a binary pipe) until a line starting with `want`; returns it (BenchError on exit or
    timeout). Bytes read past that line stay in p.leftover for read_rest()."""
    deadline = time.time() + timeout
    buf = getattr(p, "leftover", b"")
    seen = b""
    fd = p.stdout.fileno()
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.decode(errors="replace").startswith(want):
                p.leftover = buf
                return line.decode(errors="replace").strip()
            seen += line + b"\n"
        if time.time() >= deadline:
            break
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
        elif p.poll() is not None:
            break
    p.leftover = buf
    raise BenchError(f"no '{want}' line within {timeout:.0f} s (exit status {p.poll()}); output: "
                     f"{(seen + buf).decode(errors='replace').strip()[-400:]}")


def read_rest(p):
    """What p writes to stdout until it exits, after what read_line() took."""
    rest = getattr(p, "leftover", b"") + p.stdout.read()
    p.leftover = b""
    return rest.decode(errors="replace")


# ------------------------------------------------------------- BPF stats --

class BpfStats:
    """Turns BPF run-time statistics on for as long as it lives.

    BPF_ENABLE_STATS hands back an fd and the kernel counts while any such fd
    is open: nobody else's setting is changed, and a crash releases it.
    Where that command is missing, kernel.bpf_stats_enabled is set to 1 and
    restored on close."""

    BPF_ENABLE_STATS = 32  # enum bpf_cmd
    BPF_STATS_RUN_TIME = 0
    NR_BPF = {"x86_64": 321, "aarch64": 280}

    def __init__(self):
        self.fd = -1
        self.restore = None
        nr = self.NR_BPF.get(os.uname().machine)
        if nr is not None:
            libc = ctypes.CDLL(None, use_errno=True)
            attr = ctypes.c_uint32(self.BPF_STATS_RUN_TIME)
            fd = libc.syscall(nr, self.BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
            if fd >= 0:
                self.fd = fd
                self.how = "BPF_ENABLE_STATS fd"
                return
            why = os.strerror(ctypes.get_errno())
        else:
            why = f"no bpf syscall number for {os.uname().machine}"
        path = "/proc/sys/kernel/bpf_stats_enabled"
        with open(path) as f:
            self.restore = f.read().strip()
        with open(path, "w") as f:
            f.write("1")
        self.how = f"kernel.bpf_stats_enabled=1, restored to {self.restore} after (BPF_ENABLE_STATS: {why})"

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.restore is not None:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(self.restore)
            self.restore = None


def held_prog_ids(pid):
    """Ids of the BPF programs a process holds: its program fds and the programs of its link fds."""
    ids = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return ids
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except (OSError, ValueError):
            continue
    return ids


def prog_stats(ids):
    """{id: {name, type, run_cnt, run_time_ns}} for the given program ids."""
    out = {}
    for p in json.loads(run(["bpftool", "prog", "show", "-j"], timeout=60).stdout or "[]"):
        if p.get("id") in ids:
            out[p["id"]] = {"name": p.get("name", "?"), "type": p.get("type", "?"),
                            "run_cnt": p.get("run_cnt", 0), "run_time_ns": p.get("run_time_ns", 0)}
    return out


# ------------------------------------------------------------ the agents --

class Unhooked:
    kind = "none"

    def start(self, bench):
        self.pid = None

    def counters(self, bench):
        return {}

    def stop(self, bench, check=True):
        return {}


class NetObserv:
    kind = "netobserv"

    def __init__(self, sampling):
        self.sampling = sampling
        self.p = None

    def start(self, bench):
        s = bench.setup
        cmd = in_ns(s["node_netns"], bench.nobs_loader, bench.nobs_obj, str(self.sampling),
                    str(NETOBSERV_EVICT_SECONDS), s["sender"]["host_veth"], s["receiver"]["host_veth"])
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.pid = self.p.pid  # ip netns exec execs the loader: same pid
        try:
            self.ids_line = read_line(self.p, "ids ", 30)
        except BenchError as e:
            self.stop(bench, check=False)
            raise BenchError(f"nobs_loader did not attach: {e}")
        if "links=4" not in self.ids_line:
            self.stop(bench, check=False)
            raise BenchError(f"nobs_loader attached {self.ids_line}, expected 4 links (2 veths x 2 directions)")

    def counters(self, bench):
        return {}  # the loader's totals come at stop, per start

    def stop(self, bench, check=True):
        if self.p is None:
            return {}
        rc = stop_process(self.p, "nobs_loader")
        rest = read_rest(self.p)
        self.p = None
        totals = {}
        m = re.search(r"totals drains=(\d+) flows=(\d+) packets=(\d+) bytes=(\d+)", rest)
        if m:
            totals = dict(zip(("drains", "flows", "packets", "bytes"), (int(x) for x in m.groups())))
        if check and rc != 0:
            raise BenchError(f"nobs_loader exited {rc} after SIGTERM: {rest.strip()[-300:]}")
        return {"netobserv_totals": totals}


class NetringAgent:
    kind = "netring"

    def __init__(self, flags):
        self.flags = flags
        self.p = None
        self.backend = None

    def _get(self, bench, port, path):
        r = run(in_ns(bench.setup["node_netns"], "curl", "-sf", "--max-time", "5", f"http://127.0.0.1:{port}{path}"),
                timeout=15, check=False)
        return r.stdout if r.returncode == 0 else None

    def start(self, bench):
        s = bench.setup
        self.mport, self.aport = bench.free_ports(2)
        veths = [s["sender"]["host_veth"], s["receiver"]["host_veth"]]
        self.log_path = os.path.join(s["state"], "agent.log")
        self.logf = open(self.log_path, "w")
        cmd = in_ns(s["node_netns"], bench.agent, f"--node-name={BRIDGE_NODE}", "--kube-api=off",
                    f"--pods-from={s['podlist']}", "--interfaces-include=^(" + "|".join(veths) + ")$",
                    f"--metrics-listen=127.0.0.1:{self.mport}", f"--api-listen=127.0.0.1:{self.aport}", *self.flags)
        self.p = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        self.pid = self.p.pid  # ip netns exec execs the agent: same pid
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.p.poll() is not None:
                self.logf.close()
                raise BenchError(f"netring-agent {' '.join(self.flags)} exited {self.p.returncode} before ready: "
                                 + self._log_tail())
            if self._get(bench, self.mport, "/readyz") is not None:
                break
            time.sleep(0.1)
        else:
            self.stop(bench, check=False)
            raise BenchError("netring-agent not ready within 60 s: " + self._log_tail())
        # Both veths hooked, and nothing else: the agent watches exactly the bench's pods.
        hooked = []
        while time.time() < deadline:
            body = self._get(bench, self.aport, "/api/v1/interfaces")
            try:
                items = json.loads(body) if body else []
                items = items.get("interfaces", items) if isinstance(items, dict) else items
                hooked = sorted(i["name"] for i in items if i.get("hook") and i.get("role") != "mirror")
            except (ValueError, KeyError, TypeError, AttributeError):
                hooked = []
            if hooked == sorted(veths):
                break
            time.sleep(0.1)
        else:
            self.stop(bench, check=False)
            raise BenchError(f"netring-agent hooked {hooked}, expected exactly {sorted(veths)}")
        st = self._status(bench)
        self.backend = (st or {}).get("backend", {}).get("name")

    def counters(self, bench):
        """Samples the agent received and lost so far (cumulative; /api/v1/status)."""
        st = self._status(bench)
        if not st:
            return {}
        return {"samples_received": st["samples"]["received"], "samples_lost": st["samples"]["lost"],
                "scaled_copies": st.get("copy_budget", {}).get("scaled_copies", 0)}

    def _status(self, bench):
        body = self._get(bench, self.aport, "/api/v1/status")
        try:
            return json.loads(body) if body else None
        except ValueError:
            return None

    def _log_tail(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-600:].strip()
        except OSError:
            return "(no log)"

    def stop(self, bench, check=True):
        if self.p is None:
            return {}
        rc = stop_process(self.p, "netring-agent")
        self.logf.close()
        self.p = None
        out = {"backend": self.backend}
        if check and rc != 0:
            raise BenchError(f"netring-agent exited {rc} after SIGTERM: " + self._log_tail())
        return out


# ------------------------------------------------------------- the bench --

class Bench:
    def __init__(self, a, setup):
        self.a = a
        self.setup = setup
        self.agent = a.agent
        self.gen = a.gen
        self.procs = []  # long-lived helpers (iperf3 server, the UDP sink)
        self.sink = None
        self.nobs_loader = self.nobs_obj = None

    # -- helpers --
    def free_ports(self, n):
        """n TCP ports free on the node namespace's loopback (the kernel picks them)."""
        code = ("import socket\nss=[socket.socket() for _ in range(%d)]\n"
                "[s.bind(('127.0.0.1', 0)) for s in ss]\nprint(' '.join(str(s.getsockname()[1]) for s in ss))" % n)
        r = run(in_ns(self.setup["node_netns"], sys.executable, "-c", code))
        return [int(x) for x in r.stdout.split()]

    def rx_packets(self, ns):
        j = json.loads(run(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", "eth0"]).stdout)
        return j[0]["stats64"]["rx"]["packets"]

    def delivered_count(self):
        """UDP flood packets the receiver pod took so far (the UDP workload's delivered count)."""
        if self.sink is not None:
            self.sink.stdin.write(b"\n")
            self.sink.stdin.flush()
            return int(read_line(self.sink, "", 5))
        out = run(in_ns(self.setup["receiver"]["netns"], "iptables-save", "-c", "-t", "raw")).stdout
        for line in out.splitlines():
            m = re.match(r"\[(\d+):(\d+)\] -A PREROUTING .*--dport %d .*-j DROP" % UDP_DPORT, line)
            if m:
                return int(m.group(1))
        raise BenchError("receiver pod: the UDP drop rule is not in its raw PREROUTING chain:\n" + out)

    # -- fixtures --
    def prepare(self):
        s = self.setup
        rx, tx = s["receiver"], s["sender"]
        # The receiver takes the UDP flood at its eth0, before routing,
        # conntrack and sockets: the same cost whatever watches the veths, and
        # its count is the delivered count. Only the flood's destination port:
        # ARP and iperf3 pass. "consume" (the default): bench/pod_udp_sink's
        # clsact program steals the packets, and the kernel frees them with
        # consume_skb() as it does packets a socket read, like a UDP server
        # keeping up. "drop": an iptables raw-table DROP rule, which makes
        # every packet a kernel drop (kfree_skb_reason, NETFILTER_DROP), a drop
        # storm that netring's drop tracer counts packet by packet. (Not XDP
        # on the pod's eth0: it would turn off GSO on its host-side peer for
        # the TCP workload too.)
        if self.a.udp_sink == "consume":
            errf = open(os.path.join(s["state"], "pod_udp_sink.err"), "w")
            self.sink = subprocess.Popen(in_ns(rx["netns"], self.a.sink, "--ifname", "eth0", "--dport",
                                               str(UDP_DPORT)),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf)
            errf.close()
            self.procs.append(self.sink)
            read_line(self.sink, "attached", 30)
        else:
            run(in_ns(rx["netns"], "iptables", "-t", "raw", "-A", "PREROUTING", "-p", "udp", "--dport",
                      str(UDP_DPORT), "-j", "DROP"))
        self.delivered_count()
        srv = subprocess.Popen(in_ns(rx["netns"], "iperf3", "-s", "-B", rx["ip"], "-p", str(IPERF_PORT)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(srv)
        for _ in range(50):
            if f":{IPERF_PORT} " in run(["ss", "-N", rx["netns"], "-ltnH"], check=False).stdout:
                break
            time.sleep(0.1)
        else:
            raise BenchError("iperf3 server in the receiver pod did not start")
        run(in_ns(tx["netns"], "ping", "-c", "1", "-W", "2", rx["ip"]))

    def cleanup(self):
        if self.sink is not None and self.sink.poll() is None:
            self.sink.stdin.close()  # the sink detaches and exits at the end of its input
            try:
                self.sink.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.sink = None
        for p in self.procs:
            stop_process(p, "helper", timeout=5)
        self.procs = []

    def build_netobserv(self):
        src = self.a.netobserv_src
        if not src or not os.path.isfile(os.path.join(src, "build.sh")):
            return f"not measured: peer source not present ({src or 'no path'})"
        out = os.path.join(self.a.build_dir, "peers", "netobserv")
        log(f"building NetObserv's kernel program and nobs_loader from {src} into {out}")
        r = subprocess.run(["bash", os.path.join(src, "build.sh"), out], capture_output=True, text=True)
        if r.returncode != 0:
            return f"not measured: peer build failed ({(r.stderr or r.stdout).strip()[-300:]})"
        self.nobs_loader, self.nobs_obj = os.path.join(out, "nobs_loader"), os.path.join(out, "flows.o")
        return None

    # -- one workload under one configuration --
    def workload(self, name, agent_pid, seconds):
        if name == "tcp":
            return self.tcp(agent_pid, seconds)
        return self.udp(agent_pid, seconds)

    def tcp(self, agent_pid, seconds):
        s = self.setup
        rx = s["receiver"]
        pk0, a0, c0 = self.rx_packets(rx["netns"]), proc_cpu_s(agent_pid) if agent_pid else None, busy_cpu_s()
        r = run(in_ns(s["sender"]["netns"], "iperf3", "-c", rx["ip"], "-p", str(IPERF_PORT), "-J", "-t", str(seconds)),
                timeout=seconds + 30, check=False)
        c1, a1, pk1 = busy_cpu_s(), proc_cpu_s(agent_pid) if agent_pid else None, self.rx_packets(rx["netns"])
        try:
            end = json.loads(r.stdout)["end"]["sum_received"]
            nbytes, secs = end["bytes"], end["seconds"]
        except (ValueError, KeyError, TypeError):
            raise BenchError(f"iperf3 failed (exit {r.returncode}): {(r.stdout + r.stderr).strip()[-400:]}")
        return self._record(nbytes, pk1 - pk0, secs, c1 - c0, a0, a1)

    def udp(self, agent_pid, seconds):
        s = self.setup
        tx, rx = s["sender"], s["receiver"]
        warm, tail = 0.5, 0.5
        # The bridge forgets a MAC after a while: a ping teaches it both before each flood.
        run(in_ns(tx["netns"], "ping", "-c", "1", "-W", "2", rx["ip"]))
        cmd = in_ns(tx["netns"], self.gen, "--ifname", "eth0", "--src-mac", tx["mac"], "--dst-mac", rx["mac"],
                    "--src-ip", tx["ip"], "--dst-ip", rx["ip"], "--dport", str(UDP_DPORT), "--flows",
                    str(self.a.flows), "--size", str(self.a.size), "--seconds", str(warm + seconds + tail))
        cmd = pinned(self.a.gen_cpu, cmd)
        errf = os.path.join(s["state"], "pod_udp_gen.err")
        with open(errf, "w") as err:
            g = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        try:
            read_line(g, "sending", 30)
            time.sleep(warm)
            d0, a0 = self.delivered_count(), proc_cpu_s(agent_pid) if agent_pid else None
            c0, t0 = busy_cpu_s(), time.time()
            time.sleep(seconds)
            c1, a1 = busy_cpu_s(), proc_cpu_s(agent_pid) if agent_pid else None
            d1, t1 = self.delivered_count(), time.time()
            try:
                g.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                raise BenchError(f"pod_udp_gen still running {seconds + 30:.0f} s after its window")
            out = read_rest(g)
        except BenchError as e:
            with open(errf) as f:
                raise BenchError(f"{e}; pod_udp_gen stderr: {f.read().strip()[-300:]}")
        finally:
            stop_process(g, "pod_udp_gen", timeout=5)
        if g.returncode != 0:
            with open(errf) as f:
                raise BenchError(f"pod_udp_gen exited {g.returncode}: {f.read().strip()[-300:]}")
        gen = json.loads(out.strip().splitlines()[-1])
        pkts = d1 - d0
        rec = self._record(pkts * self.a.size, pkts, t1 - t0, c1 - c0, a0, a1)
        rec["generator_pps"] = gen["pps"]
        return rec

    @staticmethod
    def _record(nbytes, pkts, secs, cpu, a0, a1):
        rec = {"bytes": nbytes, "packets": pkts, "seconds": secs, "busy_cpu_s": cpu,
               "gbps": nbytes * 8 / secs / 1e9 if secs > 0 else 0.0,
               "pps": pkts / secs if secs > 0 else 0.0,
               "cpu_s_per_gb": cpu / (nbytes / 1e9) if nbytes > 0 else None,
               "cpu_s_per_mpkt": cpu / (pkts / 1e6) if pkts > 0 else None}
        if a0 and a1:
            rec["agent_user_s"], rec["agent_sys_s"] = a1[0] - a0[0], a1[1] - a0[1]
        return rec


# --------------------------------------------------------------- results --

def summ(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def ratio(a, b):
    return a / b if (a is not None and b is not None and b > 0) else None


def analyse(configs, runs, workloads):
    """Per workload and configuration: summaries, ratios to unhooked, extra CPU (paired by round)."""
    res = {}
    for w in workloads:
        by_round = {}
        for r in runs:
            if r["workload"] == w and "error" not in r:
                by_round.setdefault(r["config"], {})[r["round"]] = r
        base = by_round.get("unhooked", {})
        rw = {}
        for key in configs:
            rr = by_round.get(key, {})
            if not rr:
                continue
            c = {}
            for m in ("gbps", "pps", "cpu_s_per_gb", "cpu_s_per_mpkt", "agent_user_s", "agent_sys_s"):
                c[m] = summ([x.get(m) for x in rr.values()])
            c["agent_cpu_s"] = summ([x["agent_user_s"] + x["agent_sys_s"] for x in rr.values() if "agent_user_s" in x])
            c["samples_received"] = summ([x.get("samples_received") for x in rr.values()])
            c["samples_lost"] = summ([x.get("samples_lost") for x in rr.values()])
            c["scaled_copies"] = summ([x.get("scaled_copies") for x in rr.values()])
            c["netobserv_flows"] = summ([x.get("netobserv_totals", {}).get("flows") for x in rr.values()])
            c["netobserv_drains"] = summ([x.get("netobserv_totals", {}).get("drains") for x in rr.values()])
            for m in ("cpu_s_per_gb", "cpu_s_per_mpkt"):
                # Paired with unhooked of the same round: load drifts between rounds, not within one.
                pairs = [(x[m], base[k][m]) for k, x in rr.items()
                         if k in base and x[m] is not None and base[k][m] is not None]
                c["extra_" + m] = summ([v - b for v, b in pairs])
                c[m + "_vs_unhooked_paired"] = summ([v / b for v, b in pairs if b > 0])
            for m in ("gbps", "pps"):
                c[m + "_vs_unhooked_paired"] = summ([x[m] / base[k][m] for k, x in rr.items()
                                                     if k in base and base[k][m] > 0])
            rw[key] = c
        u = rw.get("unhooked")
        for key, c in rw.items():
            for m in ("gbps", "pps", "cpu_s_per_gb", "cpu_s_per_mpkt"):
                c[m + "_vs_unhooked"] = ratio(c[m] and c[m]["median"], u and u[m] and u[m]["median"])
            for ref in ("netobserv-50", "netobserv-1"):
                for m in ("cpu_s_per_gb", "cpu_s_per_mpkt"):
                    e, re_ = c.get("extra_" + m), rw.get(ref, {}).get("extra_" + m)
                    c[f"extra_{m}_vs_{ref}"] = extra_ratio(e, re_)
        res[w] = rw
    return res


def extra_ratio(e, ref):
    """Extra CPU over the reference's extra CPU; None when the reference adds nothing measurable."""
    if not e or not ref or ref["median"] <= 0:
        return None
    return e["median"] / ref["median"]


def round_pairs(runs, workload, key, ref, metric):
    """Per round in which key, ref and unhooked all ran: (key's, ref's) busy CPU per unit over unhooked's in that
    round (extra CPU), or with ref == "unhooked", the two busy CPUs themselves."""
    by_round = {}
    for r in runs:
        if r["workload"] == workload and "error" not in r and r.get(metric) is not None:
            by_round.setdefault(r["round"], {})[r["config"]] = r[metric]
    pairs = []
    for _, v in sorted(by_round.items()):
        if key in v and ref in v and "unhooked" in v:
            pairs.append((v[key], v[ref]) if ref == "unhooked" else (v[key] - v["unhooked"], v[ref] - v["unhooked"]))
    return pairs


def median_ratio(pairs):
    b = statistics.median(p[1] for p in pairs)
    return statistics.median(p[0] for p in pairs) / b if b > 0 else None


INTERVAL_LEVEL = 0.90
INTERVAL_RESAMPLES = 4000


def ratio_interval(pairs, seed=13):
    """A bootstrap interval (INTERVAL_LEVEL) of median_ratio over the rounds: rounds drawn with replacement, a
    round's two figures kept together (the host's speed, which moves between rounds, moves both). None when the
    reference's median is not above zero in a tenth of the draws or more (its extra CPU is within noise of
    nothing: a ratio to it says nothing). Seeded: the same rounds give the same interval."""
    if len(pairs) < 3:
        return None
    rng = random.Random(seed)
    draws = []
    for _ in range(INTERVAL_RESAMPLES):
        v = median_ratio([pairs[rng.randrange(len(pairs))] for _ in pairs])
        if v is not None:
            draws.append(v)
    if len(draws) < 0.9 * INTERVAL_RESAMPLES:
        return None
    draws.sort()
    tail = (1 - INTERVAL_LEVEL) / 2 * len(draws)
    return draws[int(tail)], draws[min(len(draws) - 1, int(len(draws) - tail))]


def judge_noise(g, pairs):
    """Adds to a goal row how sure its verdict is: the interval of its ratio over the rounds, the rounds at or
    under the limit, and `decided` (the interval lies wholly on one side of the limit)."""
    g["rounds_paired"] = len(pairs)
    g["rounds_within_limit"] = sum(1 for a, b in pairs if a <= g["limit"] * b)
    ci = ratio_interval(pairs)
    g["interval"] = list(ci) if ci else None
    g["decided"] = bool(ci) and (ci[1] <= g["limit"] or ci[0] > g["limit"])
    return g


def noise_text(g):
    """One phrase of judge_noise's additions, for the printed table and REPORT.md."""
    if "rounds_paired" not in g or g["ratio"] is None:
        return ""
    n, k = g["rounds_paired"], g["rounds_within_limit"]
    where = f"{k} of {n} rounds at or under the limit"
    if not g["interval"] and n < 3:
        return f"{where}; too few rounds for an interval"
    if not g["interval"]:
        return f"{where}; no interval: the reference's extra CPU is within noise of nothing"
    lo, hi = g["interval"]
    verdict = "decided" if g["decided"] else "not decided: the interval holds the limit"
    return f"{INTERVAL_LEVEL:.0%} interval over the rounds {lo:.3f}x..{hi:.3f}x, {where}; {verdict}"


def goals(configs, res, workloads, runs=()):
    """The goals of issue 13, each a ratio of this run with met/missed (None: not judged, and why), and how sure
    that verdict is (judge_noise)."""
    out = []

    def why_not(rw, key, ref=None):
        for k in (key, ref):
            if k is None:
                continue
            if k not in configs:
                return f"{k} not run (--only)"
            if configs[k].get("why"):
                return f"{configs[k]['label']}: {configs[k]['why']}"
            if k not in rw:
                return f"{configs[k]['label']}: no successful run"
        return "the reference's extra CPU is not above unhooked's (within noise): no ratio"

    for w in workloads:
        rw = res.get(w, {})
        for m, unit in (("cpu_s_per_gb", "per GB"), ("cpu_s_per_mpkt", "per Mpkt")):
            for key, ref, goal in (("netring-default", "netobserv-50",
                                    "netring default: extra CPU <= 1.0x NetObserv sampling 50's"),
                                   ("netring-detailed", "netobserv-1",
                                    "netring most detailed: extra CPU <= 1.0x NetObserv sampling 1's")):
                value = rw.get(key, {}).get(f"extra_{m}_vs_{ref}")
                row = {"goal": goal, "workload": w, "metric": "extra CPU " + unit, "ratio": value,
                       "limit": 1.0, "met": None if value is None else value <= 1.0,
                       "note": "" if value is not None else why_not(rw, key, ref)}
                out.append(judge_noise(row, round_pairs(runs, w, key, ref, m)) if value is not None else row)
    for w in workloads:
        rw = res.get(w, {})
        value = rw.get("netring-rate1", {}).get("cpu_s_per_gb_vs_unhooked")
        row = {"goal": "AF_XDP rung at --sample-rate=1: CPU per GB <= 1.15x unhooked", "workload": w,
               "metric": "CPU per GB vs unhooked", "ratio": value, "limit": 1.15,
               "met": None if value is None else value <= 1.15,
               "note": "" if value is not None else why_not(rw, "netring-rate1", "unhooked")}
        if w != "tcp":
            # The goal's figure is bulk TCP's; on small packets it is shown, not judged.
            row.update(met=None, informational=True)
        elif value is not None:
            judge_noise(row, round_pairs(runs, w, "netring-rate1", "unhooked", "cpu_s_per_gb"))
        out.append(row)
    return out


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def fmt_s(s, scale=1.0):
    if not s:
        return "-"
    return f"{fmt(s['median'] * scale)} [{fmt(s['min'] * scale)}..{fmt(s['max'] * scale)}]"


def fmt_r(x):
    return "-" if x is None else f"{x:.3f}x"


def bpf_line(b):
    pk = b.get("packets") or 0
    parts = [f"{p['name']} {p['ns_per_run']:.0f} ns x {p['run_cnt']}" +
             (f" ({p['run_time_ns'] / pk:.0f} ns/pkt)" if pk else "") for p in b["programs"] if p["run_cnt"]]
    return "; ".join(parts) or "no program ran"


def table(configs, res, workloads, a, bpf, goal_rows):
    L = []
    for w in workloads:
        rw = res.get(w, {})
        gen = "" if w != "udp" else (f", generator on CPU {a.gen_cpu}" if a.gen_cpu is not None
                                      else ", generator unpinned") + f", receiver: {UDP_SINKS[a.udp_sink]}"
        head = (f"== {WORKLOADS[w].replace('N flows', str(a.flows) + ' flows')}, {a.rounds} rotated rounds x "
                f"{a.seconds} s{gen}; median [min..max]")
        L.append(head)
        rate_col = "Gbit/s" if w == "tcp" else "Mpkt/s"
        L.append(f"{'configuration':44} {rate_col + ' delivered':26} {'vs unh':>7} {'CPU s/GB':24} {'vs unh':>7} "
                 f"{'CPU s/Mpkt':22} {'extra CPU s/GB':24} {'extra s/Mpkt':24} {'/NObs50':>8} {'/NObs1':>8} "
                 f"{'agent CPU s usr+sys':22}")
        for key, c in configs.items():
            label = c["label"]
            if c.get("why"):
                L.append(f"{label:44} {c['why']}")
                continue
            x = rw.get(key)
            if not x:
                L.append(f"{label:44} no successful run (see errors)")
                continue
            rate = fmt_s(x["gbps"]) if w == "tcp" else fmt_s(x["pps"], 1e-6)
            rate_r = x["gbps_vs_unhooked"] if w == "tcp" else x["pps_vs_unhooked"]
            m = "cpu_s_per_gb" if w == "tcp" else "cpu_s_per_mpkt"
            ag = "-"
            if x.get("agent_user_s"):
                ag = f"{fmt(x['agent_user_s']['median'])}+{fmt(x['agent_sys_s']['median'])}"
            base = key == "unhooked"  # its extra is 0 by definition
            L.append(f"{label:44} {rate:26} {fmt_r(rate_r):>7} {fmt_s(x['cpu_s_per_gb']):24} "
                     f"{fmt_r(x['cpu_s_per_gb_vs_unhooked']):>7} {fmt_s(x['cpu_s_per_mpkt']):22} "
                     f"{'-' if base else fmt_s(x.get('extra_cpu_s_per_gb')):24} "
                     f"{'-' if base else fmt_s(x.get('extra_cpu_s_per_mpkt')):24} "
                     f"{'-' if base else fmt_r(x.get('extra_' + m + '_vs_netobserv-50')):>8} "
                     f"{'-' if base else fmt_r(x.get('extra_' + m + '_vs_netobserv-1')):>8} {ag:22}")
        for key, c in configs.items():
            x = rw.get(key)
            if not x:
                continue
            if x.get("samples_received"):
                L.append(f"  {c['label']}: samples received per run {fmt_s(x['samples_received'])}, lost "
                         f"{fmt_s(x['samples_lost'])}, drawn at a rate the copy budget scaled "
                         f"{fmt_s(x.get('scaled_copies'))}")
            if x.get("netobserv_flows"):
                L.append(f"  {c['label']}: flows drained per start {fmt_s(x['netobserv_flows'])} over "
                         f"{fmt_s(x['netobserv_drains'])} drains (both workloads)")
        if w == "udp" and a.flows > NETOBSERV_MAP_FLOWS and any(
                configs[k]["kind"] == "netobserv" and k in rw for k in configs):
            L.append(f"  NetObserv's flow map holds {NETOBSERV_MAP_FLOWS} flows (the Go agent's default): with "
                     f"{a.flows} flows, packets of the flows that found it full between two drains failed their "
                     "insert and were not counted (the ring-buffer fallback is off, as in the Go agent's defaults)")
        L.append("")
    L.append("vs unh = ratio of this configuration's median to unhooked's (the plots pair each round with its own "
             "unhooked run instead); "
             "extra CPU = this configuration's busy CPU per unit minus unhooked's in the same round (median of the "
             "rounds); /NObs50, /NObs1 = its ratio to NetObserv sampling 50's and sampling 1's extra CPU (per GB for "
             "TCP, per Mpkt for UDP); agent CPU = the agent process's own utime+stime per run (netring-agent or "
             "nobs_loader). TCP GB = iperf3 payload, TCP packets = skbs the receiver pod's eth0 took (a GRO/GSO skb "
             "counts once); UDP GB = frame bytes.")
    L.append("")
    if bpf:
        L.append(f"== kernel ns per program run x runs (ns per packet delivered), BPF run-time statistics on, a "
                 f"separate pass of {a.stats_seconds} s per workload; a run's time includes the helpers it calls: "
                 "the sampler's includes its clone's pass through the mirror's egress program")
        for w in workloads:
            for key, c in configs.items():
                progs = bpf.get(w, {}).get(key)
                if progs is None:
                    continue
                L.append(f"  {w:4} {c['label']:44} " + (progs if isinstance(progs, str) else bpf_line(progs)))
        L.append("")
    L.append("== goals of issue 13 (ratios in this run)")
    for g in goal_rows:
        res_s = {True: "met", False: "MISSED", None: "not judged"}[g["met"]]
        if g.get("informational"):
            res_s = "informational"
        sure = noise_text(g)
        L.append(f"  {g['workload']:4} {g['goal']} [{g['metric']}]: {fmt_r(g['ratio'])} (limit {g['limit']}x) "
                 f"{res_s}{'; ' + g['note'] if g['note'] else ''}{'; ' + sure if sure else ''}")
    return "\n".join(L)


# ------------------------------------------------------------------ main --

def parse_args(argv):
    keys = ", ".join(["unhooked", *NETOBSERV_CONFIGS, *NETRING_CONFIGS])
    ap = argparse.ArgumentParser(
        prog="bench/pod_cost.sh", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Figure 9 (issue 13): what an agent watching two CNI pods costs them, netring-agent against "
        "NetObserv's eBPF kernel program, bulk TCP and small UDP packets, in rotated rounds.",
        epilog=f"configuration keys (--only): {keys}; --netring KEY=FLAGS adds netring-KEY")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"),
                    help="tree with netring-agent and bench/pod_udp_gen; NetObserv is built into DIR/peers/netobserv")
    ap.add_argument("--agent", help="netring-agent binary (default: BUILD_DIR/netring-agent)")
    ap.add_argument("--gen", help="pod_udp_gen binary (default: BUILD_DIR/bench/pod_udp_gen)")
    ap.add_argument("--netobserv-src", help="the peer's folder (default: ../shared/peers/netobserv beside the main "
                    "checkout)")
    ap.add_argument("--rounds", type=int, default=9, help="rounds (>= 5); every configuration once per round")
    ap.add_argument("--seconds", type=float, default=5, help="seconds per workload run")
    ap.add_argument("--stats-seconds", type=float, default=3, help="seconds per workload in the BPF statistics "
                    "pass; 0 skips the pass")
    ap.add_argument("--flows", type=int, default=10000, help="UDP flows (distinct source ports)")
    ap.add_argument("--size", type=int, default=64, help="UDP frame bytes")
    ap.add_argument("--workloads", default="tcp,udp", help="comma list of tcp, udp")
    ap.add_argument("--only", help="comma list of configuration keys to run (unhooked always runs)")
    ap.add_argument("--netring", action="append", default=[], metavar="KEY=FLAGS",
                    help="an extra netring configuration, e.g. 'rate10=--sample-rate=10'")
    # The UDP flood's whole path (the generator's transmit, both veths, the
    # bridge, the hooks, the receiver's sink) runs in the generator's
    # system calls and their softirqs, so its CPU is the measured one. Left to
    # the scheduler it landed on either CPU of the 2-CPU VM from run to run,
    # and CPU 0, which takes the VM's virtio interrupts, delivered 0.58-0.72
    # Mpkt/s unhooked against 0.96-0.97 on CPU 1 in the same minutes.
    ap.add_argument("--gen-cpu", type=int, default=max(os.sched_getaffinity(0)),
                    help="CPU the UDP generator runs on (default: the last this process may use; -1: wherever the "
                    "scheduler puts it)")
    ap.add_argument("--udp-sink", choices=sorted(UDP_SINKS), default="consume",
                    help="how the receiver pod takes the UDP flood: consume (a clsact program steals it, freed as "
                    "delivered; default) or drop (an iptables DROP rule: every packet a kernel drop)")
    ap.add_argument("--sink", help="pod_udp_sink binary (default: BUILD_DIR/bench/pod_udp_sink)")
    ap.add_argument("--json", help="write every run, the summaries and the goals here")
    ap.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--setup", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.rounds < 5:
        ap.error(f"--rounds {a.rounds}: at least 5 (medians of fewer say little)")
    if not a.seconds > 0 or a.stats_seconds < 0:
        ap.error("--seconds must be > 0 and --stats-seconds >= 0")
    if not 1 <= a.flows <= 45000:
        ap.error(f"--flows {a.flows}: 1..45000 (source ports from 20000)")
    if not 60 <= a.size <= 1514:
        ap.error(f"--size {a.size}: 60..1514")
    a.workloads = [w for w in a.workloads.split(",") if w]
    bad = [w for w in a.workloads if w not in WORKLOADS]
    if bad or not a.workloads:
        ap.error(f"--workloads: unknown {bad} (tcp, udp)")
    extra = {}
    for spec in a.netring:
        key, sep, flags = spec.partition("=")
        if not sep or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", key):
            ap.error(f"--netring '{spec}': want KEY=FLAGS with KEY in [a-z0-9-]")
        extra["netring-" + key] = {"label": f"netring {flags}".strip(), "short": f"netring\n{key}",
                                   "flags": shlex.split(flags), "needs": None}
    a.extra = extra
    known = ["unhooked", *NETOBSERV_CONFIGS, *NETRING_CONFIGS, *extra]
    a.only = [k for k in a.only.split(",") if k] if a.only else None
    if a.only and [k for k in a.only if k not in known]:
        ap.error(f"--only: unknown {[k for k in a.only if k not in known]}; known: {', '.join(known)}")
    allowed = sorted(os.sched_getaffinity(0))
    if a.gen_cpu != -1 and a.gen_cpu not in allowed:
        ap.error(f"--gen-cpu {a.gen_cpu}: -1 or one of the CPUs this process may use: {allowed}")
    a.gen_cpu = None if a.gen_cpu == -1 else a.gen_cpu
    a.agent = a.agent or os.path.join(a.build_dir, "netring-agent")
    a.gen = a.gen or os.path.join(a.build_dir, "bench", "pod_udp_gen")
    a.sink = a.sink or os.path.join(a.build_dir, "bench", "pod_udp_sink")
    if a.netobserv_src is None:
        # ../shared beside the main checkout (a worktree's own parent is not it).
        r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--path-format=absolute", "--git-common-dir"],
                           capture_output=True, text=True)
        main = os.path.dirname(r.stdout.strip()) if r.returncode == 0 else ROOT
        a.netobserv_src = os.path.join(os.path.dirname(main), "shared", "peers", "netobserv")
    for path, what in ((a.agent, "netring-agent"), (a.gen, "pod_udp_gen"),
                       *([(a.sink, "pod_udp_sink")] if a.udp_sink == "consume" else [])):
        if not os.access(path, os.X_OK):
            ap.error(f"{what} not found at {path} (build it: cmake --build BUILD_DIR --target {what}, "
                     "or give its path)")
    return a


def main(argv):
    a = parse_args(argv)
    if a.check:
        return 0
    with open(a.setup) as f:
        setup = json.load(f)

    def on_term(*_):
        raise Stop()
    signal.signal(signal.SIGTERM, on_term)

    bench = Bench(a, setup)
    helptext = run([a.agent, "--help"], check=False)
    helptext = helptext.stdout + helptext.stderr
    version = run([a.agent, "--version"], check=False).stdout.strip()
    commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False).stdout.strip() or "unknown"

    # The configurations, in table order; each either measurable or with the reason it is not.
    configs = {"unhooked": {"label": "unhooked", "short": "unhooked", "kind": "none", "why": None}}
    nobs_why = bench.build_netobserv()
    for key, c in NETOBSERV_CONFIGS.items():
        configs[key] = {**c, "kind": "netobserv", "why": nobs_why}
    for key, c in {**NETRING_CONFIGS, **a.extra}.items():
        why = None
        if c["needs"] and not re.search(re.escape(c["needs"]) + r"\b", helptext):
            why = f"not available in this build (netring-agent --help has no {c['needs']})"
        configs[key] = {**c, "kind": "netring", "why": why}
    if a.only:
        configs = {k: v for k, v in configs.items() if k == "unhooked" or k in a.only}
    runnable = [k for k, c in configs.items() if not c.get("why")]

    def make(key):
        c = configs[key]
        if c["kind"] == "none":
            return Unhooked()
        if c["kind"] == "netobserv":
            return NetObserv(c["sampling"])
        return NetringAgent(c["flags"])

    runs, errors, bpf = [], [], {}
    current = []  # the configuration running now, stopped on any way out
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    log(f"pod_cost: {version or a.agent} (commit {commit}); {len(runnable)} configurations x {a.rounds} rounds, "
        f"workloads {','.join(a.workloads)}, {a.seconds} s each")
    for key, c in configs.items():
        if c.get("why"):
            log(f"  {c['label']}: {c['why']}")
    try:
        bench.prepare()
        for rnd in range(a.rounds):
            order = runnable[rnd % len(runnable):] + runnable[:rnd % len(runnable)]
            for key in order:
                agent = make(key)
                current[:] = [agent]
                try:
                    agent.start(bench)
                    # Start-up work (maps, sockets, first status) and the previous configuration's
                    # teardown (deferred frees) out of the window; the same pause for every one.
                    time.sleep(1.0)
                    recs = []
                    for w in a.workloads:
                        k0 = agent.counters(bench)
                        rec = bench.workload(w, agent.pid, a.seconds)
                        k1 = agent.counters(bench)
                        rec.update({k: k1[k] - k0[k] for k in k1 if k in k0})
                        rec.update({"round": rnd + 1, "config": key, "workload": w})
                        recs.append(rec)
                    info = agent.stop(bench)
                    for rec in recs:
                        rec.update(info)
                        runs.append(rec)
                        unit = (f"{rec['gbps']:.2f} Gbit/s" if rec["workload"] == "tcp"
                                else f"{rec['pps'] / 1e6:.3f} Mpkt/s")
                        ag = (f", agent {rec['agent_user_s']:.2f}+{rec['agent_sys_s']:.2f} s"
                              if "agent_user_s" in rec else "")
                        log(f"round {rnd + 1} {rec['workload']} {configs[key]['label']:44} {unit:>16}  "
                            f"{fmt(rec['cpu_s_per_gb'])} CPU s/GB  {fmt(rec['cpu_s_per_mpkt'])} CPU s/Mpkt{ag}")
                except BenchError as e:
                    try:
                        agent.stop(bench, check=False)
                    except BenchError:
                        pass
                    errors.append({"round": rnd + 1, "config": key, "error": str(e)})
                    log(f"round {rnd + 1} {configs[key]['label']}: FAILED: {e}")
        if a.stats_seconds > 0:
            stats = BpfStats()
            log(f"BPF statistics pass ({stats.how}), {a.stats_seconds} s per workload")
            try:
                for key in runnable:
                    if key == "unhooked":
                        continue
                    agent = make(key)
                    current[:] = [agent]
                    try:
                        agent.start(bench)
                        time.sleep(1.0)
                        ids = held_prog_ids(agent.pid)
                        for w in a.workloads:
                            s0 = prog_stats(ids)
                            rec = bench.workload(w, agent.pid, a.stats_seconds)
                            s1 = prog_stats(ids)
                            progs = []
                            for pid_, p in sorted(s1.items()):
                                b = s0.get(pid_, {"run_cnt": 0, "run_time_ns": 0})
                                n, ns = p["run_cnt"] - b["run_cnt"], p["run_time_ns"] - b["run_time_ns"]
                                progs.append({"id": pid_, "name": p["name"], "type": p["type"], "run_cnt": n,
                                              "run_time_ns": ns, "ns_per_run": ns / n if n else 0.0})
                            # Per program, its time over the packets the receiver got. Not summed: a
                            # program's run time includes the helpers it calls, and the clone that
                            # bpf_clone_redirect sends runs the mirror's egress program inside it.
                            for p in progs:
                                p["ns_per_packet"] = p["run_time_ns"] / rec["packets"] if rec["packets"] else None
                            bpf.setdefault(w, {})[key] = {"programs": progs, "packets": rec["packets"]}
                            log(f"  {w} {configs[key]['label']}: " + bpf_line(bpf[w][key]))
                        agent.stop(bench)
                    except BenchError as e:
                        try:
                            agent.stop(bench, check=False)
                        except BenchError:
                            pass
                        for w in a.workloads:
                            bpf.setdefault(w, {})[key] = f"failed: {e}"
                        log(f"  {configs[key]['label']}: FAILED: {e}")
            finally:
                stats.close()
    except (Stop, KeyboardInterrupt):
        log("pod_cost: stopped by a signal; cleaning up")
        return 143
    finally:
        for agent in current:
            try:
                agent.stop(bench, check=False)
            except (BenchError, OSError):
                pass
        bench.cleanup()

    res = analyse(configs, runs, a.workloads)
    goal_rows = goals(configs, res, a.workloads, runs)
    text = table(configs, res, a.workloads, a, bpf, goal_rows)
    print("\n" + text, flush=True)
    if errors:
        log(f"\n{len(errors)} failed runs:")
        for e in errors:
            log(f"  round {e['round']} {configs[e['config']]['label']}: {e['error']}")
    if a.json:
        doc = {"bench": "pod_cost", "started": started, "commit": commit, "agent_version": version,
               "rounds": a.rounds, "seconds": a.seconds, "stats_seconds": a.stats_seconds, "flows": a.flows,
               "size": a.size, "gen_cpu": a.gen_cpu, "udp_sink": a.udp_sink, "workloads": a.workloads,
               "netobserv_src": a.netobserv_src,
               "netobserv_evict_seconds": NETOBSERV_EVICT_SECONDS,
               "configs": [{"key": k, **v} for k, v in configs.items()], "runs": runs, "errors": errors,
               "results": res, "bpf_stats": bpf, "goals": goal_rows, "table": text}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
        log(f"JSON written to {a.json}")
    # Every configuration must have been measured in every round to count as a run that worked.
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
