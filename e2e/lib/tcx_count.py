#!/usr/bin/env python3
"""Prints how many tcx programs are attached at ingress and egress of a device.

Usage: tcx_count.py DEVICE  ->  "INGRESS EGRESS"
bpftool 7.1 (Debian 12) does not list tcx attachments, so this asks the kernel
directly: BPF_PROG_QUERY on the tcx attach points (Linux >= 6.6) returns the
number of attached programs when called without an id buffer. A kernel
without tcx (before 6.6) rejects the attach type with EINVAL: nothing can be
attached there, so the count is 0.
"""
import ctypes
import errno
import os
import socket
import sys

SYS_BPF = 321  # x86_64
BPF_PROG_QUERY = 16
BPF_TCX_INGRESS, BPF_TCX_EGRESS = 46, 47


class QueryAttr(ctypes.Structure):
    _fields_ = [
        ("target_ifindex", ctypes.c_uint32),
        ("attach_type", ctypes.c_uint32),
        ("query_flags", ctypes.c_uint32),
        ("attach_flags", ctypes.c_uint32),
        ("prog_ids", ctypes.c_uint64),
        ("count", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("prog_attach_flags", ctypes.c_uint64),
        ("link_ids", ctypes.c_uint64),
        ("link_attach_flags", ctypes.c_uint64),
        ("revision", ctypes.c_uint64),
    ]


def count(ifindex: int, attach_type: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    q = QueryAttr(target_ifindex=ifindex, attach_type=attach_type)
    if libc.syscall(SYS_BPF, BPF_PROG_QUERY, ctypes.byref(q), ctypes.sizeof(q)) != 0:
        err = ctypes.get_errno()
        if err == errno.EINVAL and attach_type in (BPF_TCX_INGRESS, BPF_TCX_EGRESS):
            return 0
        sys.exit(f"bpf(BPF_PROG_QUERY) on ifindex {ifindex}: {os.strerror(err)}")
    return q.count


ifindex = socket.if_nametoindex(sys.argv[1])
print(count(ifindex, BPF_TCX_INGRESS), count(ifindex, BPF_TCX_EGRESS))
