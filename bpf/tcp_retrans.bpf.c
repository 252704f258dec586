// SPDX-License-Identifier: GPL-2.0
/* TCP retransmissions: raw tracepoint on tcp:tcp_retransmit_skb.
 *
 * __tcp_retransmit_skb() adds tcp_skb_pcount(skb) to the namespace's
 * TcpRetransSegs and fires this tracepoint for the same skb, so counting
 * pcount per hit gives the kernel's own unit. Arguments: (sk, skb) up to
 * 6.12, (sk, skb, err) since: from 6.13 the tracepoint fires for failed
 * retransmissions too (TcpRetransSegs counts those as well), before that
 * only for the ones sent. SYN-ACKs of a request socket are retransmitted
 * elsewhere (tcp:tcp_retransmit_synack) and are not counted here.
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

SEC("raw_tp/tcp_retransmit_skb")
int netring_tcp_retransmit_skb(struct bpf_raw_tracepoint_args *ctx)
{
	struct sock *sk = (struct sock *)ctx->args[0];
	struct sk_buff *skb = (struct sk_buff *)ctx->args[1];
	struct netring_flow_key key = {};
	struct netring_retrans_counts *c;
	__u32 zero = 0, srtt = 0;
	__u16 family, segs = 1;
	__u64 now;
	void *map;

	stat_add(NETRING_RETRANS_STAT_SEEN, 1);
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
		bpf_map_update_elem(map, &key, &init, BPF_NOEXIST);
		c = bpf_map_lookup_elem(map, &key);
		if (!c) {
			stat_add(NETRING_RETRANS_STAT_MAP_FULL, 1);
			return 0;
		}
	}
	__sync_fetch_and_add(&c->segments, segs);
	__sync_fetch_and_add(&c->skbs, 1);
	c->last_ns = now;
	c->srtt_us = srtt;
	return 0;
}
