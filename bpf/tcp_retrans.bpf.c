// SPDX-License-Identifier: GPL-2.0
/* TCP retransmissions: raw tracepoint on tcp:tcp_retransmit_skb.
 *
 * __tcp_retransmit_skb() adds tcp_skb_pcount(skb) to the namespace's
 * TcpRetransSegs and fires this tracepoint for the same skb, so counting
 * pcount per hit gives the kernel's own unit. Two programs, one loaded
 * (pkg/kevents/retransmit_monitor.cpp asks the kernel's BTF):
 *  - up to 6.12 the arguments are (sk, skb) and the tracepoint fires only
 *    for retransmissions the device took; the ones counted in
 *    TcpRetransSegs but refused below TCP (TcpExtTCPRetransFail, rare: a
 *    full qdisc, a netfilter drop on output) are not seen;
 *  - from 6.13, (sk, skb, err), and it fires for every attempt, also the
 *    ones that gave up *before* the counter was added to (err -EBUSY: the
 *    first copy still in the host's queues, -EAGAIN: no window or send
 *    buffer, -ENOMEM, -EINVAL, -EHOSTUNREACH from rebuilding the route):
 *    those are not counted, so the sum stays TcpRetransSegs. The same
 *    codes can come from below TCP after the counter (a route lookup that
 *    fails after rebuild_header succeeded): rare enough to take the miss.
 * SYN-ACKs of a request socket are retransmitted elsewhere
 * (tcp:tcp_retransmit_synack) and are not counted here.
 *
 * Per hit: the flow of the retransmitted segment (local -> remote, the key
 * the sampler gives the same packet), its segments, and the socket's
 * smoothed RTT (tcp_sock.srtt_us, the kernel's own estimate, read where we
 * are anyway: no per-packet cost).
 */
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/kernel_types.h"
#include "bpf/kevents.h"

char LICENSE[] SEC("license") = "GPL";

#define NETRING_AF_INET 2
#define NETRING_AF_INET6 10
/* errno values (asm-generic/errno-base.h, errno.h): the UAPI errno header
 * needs the target's asm/ directory, which a BPF build has not. */
#define NETRING_E2BIG 7
#define NETRING_EINVAL 22
#define NETRING_ENOMEM 12
#define NETRING_EAGAIN 11
#define NETRING_EBUSY 16
#define NETRING_EHOSTUNREACH 113

struct retrans_counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct netring_flow_key);
	__type(value, struct netring_retrans_counts);
} retrans_a SEC(".maps"), retrans_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct retrans_counts_map);
} retrans_maps SEC(".maps") = {
	.values = { [0] = &retrans_a },
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_RETRANS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} retrans_stats SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&retrans_stats, &idx);
	if (v)
		*v += n;
}

static __always_inline void set_v4(__u8 *dst, __u32 be_addr)
{
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &be_addr, 4);
}

static __always_inline int is_v4_mapped(const __u8 *a)
{
	__u64 lo;
	__u32 mid;

	__builtin_memcpy(&lo, a, 8);
	__builtin_memcpy(&mid, a + 8, 4);
	return lo == 0 && mid == bpf_htonl(0x0000ffff);
}

static __always_inline int count_retransmit(struct sock *sk, struct sk_buff *skb)
{
	struct netring_flow_key key = {};
	struct netring_retrans_counts *c;
	__u32 zero = 0, srtt = 0;
	__u16 family, segs = 1;
	__u64 now;
	void *map;

	if (skb) {
		struct tcp_skb_cb *cb = (struct tcp_skb_cb *)&skb->cb[0];
		segs = BPF_CORE_READ(cb, tcp_gso_segs);
		if (segs == 0)
			segs = 1;
	}
	stat_add(NETRING_RETRANS_STAT_SEGMENTS, segs);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == NETRING_AF_INET) {
		key.family = 4;
		set_v4(key.src, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		set_v4(key.dst, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else if (family == NETRING_AF_INET6) {
		BPF_CORE_READ_INTO(&key.src, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&key.dst, sk, __sk_common.skc_v6_daddr);
		/* A dual-stack socket talking IPv4 sends IPv4 packets: key them
		 * as the sampler does (family 4, the same mapped form). */
		key.family = is_v4_mapped(key.src) && is_v4_mapped(key.dst) ? 4 : 6;
	} else {
		stat_add(NETRING_RETRANS_STAT_UNKEYED, 1);
		return 0;
	}
	key.protocol = 6; /* IPPROTO_TCP */
	key.src_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	key.dst_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	srtt = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
	now = bpf_ktime_get_ns();

	map = bpf_map_lookup_elem(&retrans_maps, &zero);
	if (!map) {
		stat_add(NETRING_RETRANS_STAT_NO_MAP, 1);
		return 0;
	}
	c = bpf_map_lookup_elem(map, &key);
	if (!c) {
		struct netring_retrans_counts init = {};
		long err = bpf_map_update_elem(map, &key, &init, BPF_NOEXIST);
		c = bpf_map_lookup_elem(map, &key);
		if (!c) {
			/* -E2BIG: no free entry. Anything else: the bucket's
			 * lock gave up (6.15+ rqspinlock: a deadlock or a
			 * quarter-second wait, e.g. a stalled vCPU). */
			stat_add(err == -NETRING_E2BIG ? NETRING_RETRANS_STAT_MAP_FULL : NETRING_RETRANS_STAT_MAP_BUSY, 1);
			return 0;
		}
	}
	__sync_fetch_and_add(&c->segments, segs);
	__sync_fetch_and_add(&c->skbs, 1);
	c->last_ns = now;
	c->srtt_us = srtt;
	return 0;
}

/* Kernels up to 6.12: (sk, skb), fired once the retransmission was sent. */
SEC("raw_tp/tcp_retransmit_skb")
int netring_tcp_retransmit_skb(struct bpf_raw_tracepoint_args *ctx)
{
	stat_add(NETRING_RETRANS_STAT_SEEN, 1);
	return count_retransmit((struct sock *)ctx->args[0], (struct sk_buff *)ctx->args[1]);
}

/* 6.13 on: (sk, skb, err), fired for every attempt (see the top). */
SEC("raw_tp/tcp_retransmit_skb")
int netring_tcp_retransmit_skb_err(struct bpf_raw_tracepoint_args *ctx)
{
	int err = (int)ctx->args[2];

	stat_add(NETRING_RETRANS_STAT_SEEN, 1);
	if (err == -NETRING_EBUSY || err == -NETRING_EAGAIN || err == -NETRING_ENOMEM || err == -NETRING_EINVAL ||
	    err == -NETRING_EHOSTUNREACH) {
		stat_add(NETRING_RETRANS_STAT_NOT_SENT, 1);
		return 0;
	}
	return count_retransmit((struct sock *)ctx->args[0], (struct sk_buff *)ctx->args[1]);
}
