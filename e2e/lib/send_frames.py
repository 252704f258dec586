#!/usr/bin/env python3
"""Sends an exact number of Ethernet/IPv4/UDP frames out of a device, paced.

Usage: send_frames.py DEVICE SRC_IP DST_IP SPORT DPORT COUNT [SIZE]

Stands in for a switch's SPAN port in the e2e scenarios: the frames are
copies of traffic between two addresses, sent through an AF_PACKET socket
(standard library only), 32 at a time with a millisecond between batches so
a veth peer's XDP ring never overflows. Prints how many the kernel took.
"""
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src: str, dst: str, sport: int, dport: int, size: int, seq: int) -> bytes:
    payload = struct.pack("!Q", seq).ljust(size - 42, b"\xab")
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload  # checksum 0: none (IPv4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002" "020000000001") + struct.pack("!H", 0x0800)
    return eth + ip + udp


def main() -> int:
    dev, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    sport, dport, count = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    size = int(sys.argv[7]) if len(sys.argv) > 7 else 200
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((dev, 0))
    sent = 0
    for i in range(count):
        if s.send(frame(src, dst, sport, dport, size, i)) > 0:
            sent += 1
        if i % 32 == 31:
            time.sleep(0.001)
    print(sent)
    return 0 if sent == count else 1


if __name__ == "__main__":
    sys.exit(main())
