#!/usr/bin/env python3
"""Writes the flow parser fuzzer's seed corpus: one well-formed frame per
header combination the parser knows (lengths right, checksums not needed),
so the fuzzer starts from every layer instead of discovering Ethernet.
Usage: fuzz/make_flow_parser_corpus.py [OUT_DIR]  (default fuzz/corpus/flow_parser)"""
import os
import struct
import sys


def eth(ethertype):
    return bytes.fromhex("020000000002020000000001") + struct.pack("!H", ethertype)


def vlan(vid, ethertype):
    return struct.pack("!HH", vid, ethertype)


def ipv4(proto, payload, options=b"", frag=0, ident=1):
    ihl = (20 + len(options)) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), ident, frag, 64, proto, 0,
                      bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return hdr + options + payload


def ipv6(next_header, payload):
    src = bytes.fromhex("fd000000000000000000000000000001")
    dst = bytes.fromhex("fd000000000000000000000000000002")
    return struct.pack("!IHBB", 0x60000000, len(payload), next_header, 64) + src + dst + payload


def ext(next_header, units):  # hop-by-hop / routing / destination options
    return bytes([next_header, units]) + bytes(6 + 8 * units)


def frag6(next_header, offset8, more, ident):
    return struct.pack("!BBHI", next_header, 0, offset8 << 3 | more, ident)


def ah(next_header):
    return bytes([next_header, 4]) + bytes(22)  # (4 + 2) * 4 = 24 bytes


def tcp(sport, dport, flags=0x18):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0) + b"data"


def udp(sport, dport, payload=b"abcd"):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(t, c):
    return struct.pack("!BBHI", t, c, 0, 0) + b"ping"


def sctp(sport, dport):
    return struct.pack("!HHII", sport, dport, 0, 0) + bytes(16)


def vxlan(vni, inner):
    return struct.pack("!II", 0x08000000, vni << 8) + inner


def geneve(vni, proto, inner, opt_words=0):
    return struct.pack("!BBHI", opt_words, 0, proto, vni << 8) + bytes(4 * opt_words) + inner


inner4 = eth(0x0800) + ipv4(6, tcp(40000, 8080))
inner6 = eth(0x86DD) + ipv6(17, udp(5353, 53))

seeds = {
    "ipv4_tcp": eth(0x0800) + ipv4(6, tcp(1234, 80)),
    "ipv4_udp": eth(0x0800) + ipv4(17, udp(5000, 53)),
    "ipv4_icmp": eth(0x0800) + ipv4(1, icmp(8, 0)),
    "ipv4_sctp": eth(0x0800) + ipv4(132, sctp(3868, 3868)),
    "ipv4_options": eth(0x0800) + ipv4(6, tcp(1, 2), options=bytes([0x94, 4, 0, 0, 1, 1, 1, 0])),
    "ipv4_first_fragment": eth(0x0800) + ipv4(17, udp(7, 9, bytes(32)), frag=0x2000, ident=77),
    "ipv4_later_fragment": eth(0x0800) + ipv4(17, bytes(16), frag=3, ident=77),
    "vlan_ipv4_tcp": eth(0x8100) + vlan(100, 0x0800) + ipv4(6, tcp(1, 2)),
    "qinq_ipv6_udp": eth(0x88A8) + vlan(1, 0x8100) + vlan(2, 0x86DD) + ipv6(17, udp(1, 2)),
    "qinq_9100": eth(0x9100) + vlan(1, 0x8100) + vlan(2, 0x0800) + ipv4(17, udp(1, 2)),
    "ipv6_tcp": eth(0x86DD) + ipv6(6, tcp(1000, 443)),
    "ipv6_icmpv6": eth(0x86DD) + ipv6(58, icmp(128, 0)),
    "ipv6_ext_chain": eth(0x86DD) + ipv6(0, ext(43, 0) + ext(51, 1) + ah(60) + ext(17, 0) + udp(1, 2)),
    "ipv6_first_fragment": eth(0x86DD) + ipv6(44, frag6(17, 0, 1, 0xDEAD) + udp(1000, 53, bytes(40))),
    "ipv6_later_fragment": eth(0x86DD) + ipv6(44, frag6(17, 6, 0, 0xDEAD) + bytes(24)),
    "vxlan_4789": eth(0x0800) + ipv4(17, udp(51000, 4789, vxlan(42, inner4))),
    "vxlan_8472_inner6": eth(0x0800) + ipv4(17, udp(51000, 8472, vxlan(7, inner6))),
    "geneve_eth": eth(0x86DD) + ipv6(17, udp(51000, 6081, geneve(1000, 0x6558, inner4, 2))),
    "geneve_ip": eth(0x0800) + ipv4(17, udp(51000, 6081, geneve(9, 0x0800, inner4[14:]))),
    "arp": eth(0x0806) + bytes(28),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "flow_parser")
    os.makedirs(out, exist_ok=True)
    for name, frame in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(frame)


if __name__ == "__main__":
    main()
