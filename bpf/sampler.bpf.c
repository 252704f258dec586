// SPDX-License-Identifier: GPL-2.0
/* The sampler: TC program on pod veths and NICs (tcx or clsact).
 *
 * It counts every packet exactly, picks packets with p = min(1, gso_segs/N)
 * and clones the picked ones onto the mirror link with their metadata in
 * skb->mark / skb->priority (see sample_meta.h). It never drops, never ends
 * the chain (TC_ACT_UNSPEC == TCX_NEXT), and never writes the packet's bytes:
 * reads go through bpf_skb_load_bytes only.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/sample_meta.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct netring_if_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netring_settings);
} settings SEC(".maps");

/* CLOCK_MONOTONIC ns of the agent's last refresh (bpf_ktime_get_ns is the
 * same clock). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} heartbeat SEC(".maps");

/* UDP destination ports (host order) of encapsulations: non-zero = tunnel. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} tunnel_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct netring_if_key);
	__type(value, struct netring_if_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_ST__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline __u64 *stat_slot(__u32 idx)
{
	return bpf_map_lookup_elem(&stats, &idx);
}

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = stat_slot(idx);

	if (v)
		*v += 1;
}

static __always_inline void count(struct __sk_buff *skb, __u32 dir, __u32 segs)
{
	/* The key in one 8-byte store. Two field stores put a 4-byte scalar
	 * spill and then a 4-byte write into the same stack slot, which the
	 * verifier of Debian 12's kernel (6.1) rejects without CAP_PERFMON
	 * ("attempt to corrupt spilled pointer on stack"); 6.18 accepts both.
	 * Little-endian: ifindex is the low half. */
	union {
		struct netring_if_key k;
		__u64 raw;
	} key = { .raw = (__u64)dir << 32 | skb->ifindex };
	struct netring_if_counters *c = bpf_map_lookup_elem(&counters, &key.k);

	if (!c) {
		/* User space creates the entry on hook; this covers a race with
		 * map updates. Per-CPU values: no atomics needed. */
		struct netring_if_counters init = { 1, segs, skb->len };

		bpf_map_update_elem(&counters, &key.k, &init, BPF_NOEXIST);
		return;
	}
	c->skbs += 1;
	c->segs += segs;
	c->bytes += skb->len;
}

static __always_inline int udp_is_tunnel(struct __sk_buff *skb, __u32 l4off)
{
	__be16 dport;
	__u32 port;
	__u8 *hit;

	if (bpf_skb_load_bytes(skb, l4off + __builtin_offsetof(struct udphdr, dest), &dport, sizeof(dport)))
		return 0;
	port = bpf_ntohs(dport);
	hit = bpf_map_lookup_elem(&tunnel_ports, &port);
	return hit && *hit;
}

/* An encapsulation leaving a NIC carries packets already sampled at the pod
 * veth (encapsulation resets ingress_ifindex, so the egress rule alone would
 * count them twice). Assumes an untagged Ethernet header in the data (a
 * hardware-accelerated VLAN tag is not in the data); no IPv6 extension
 * header walk. */
static __always_inline int is_tunnel(struct __sk_buff *skb, __u32 flags)
{
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
			return 0;
		if (ip.protocol == IPPROTO_IPIP)
			return flags & NETRING_SET_F_SKIP_IPIP;
		if (ip.protocol == IPPROTO_IPV6)
			return flags & NETRING_SET_F_SKIP_IP6IP;
		if (ip.protocol == IPPROTO_UDP)
			return udp_is_tunnel(skb, ETH_HLEN + ip.ihl * 4);
		return 0;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return 0;
		if (ip6.nexthdr == IPPROTO_IPIP)
			return flags & NETRING_SET_F_SKIP_IPIP;
		if (ip6.nexthdr == IPPROTO_IPV6)
			return flags & NETRING_SET_F_SKIP_IP6IP;
		if (ip6.nexthdr == IPPROTO_UDP)
			return udp_is_tunnel(skb, ETH_HLEN + sizeof(ip6));
	}
	return 0;
}

static __always_inline int heartbeat_fresh(const struct netring_settings *s)
{
	__u32 zero = 0;
	__u64 *hb = bpf_map_lookup_elem(&heartbeat, &zero);
	__u64 now, last;

	if (!hb)
		return 0;
	last = *hb;
	if (last == 0)
		return 0;
	now = bpf_ktime_get_ns();
	/* The agent may have written "now" a moment after our read of the clock. */
	return now <= last || now - last <= s->heartbeat_timeout_ns;
}

static __always_inline int sample(struct __sk_buff *skb, __u32 dir)
{
	__u32 segs = skb->gso_segs ? skb->gso_segs : 1;
	struct netring_if_config *cfg;
	struct netring_settings *set;
	__u32 zero = 0, mark, prio, ifindex = skb->ifindex;
	__u64 *seq;
	long ret;

	count(skb, dir, segs);

	cfg = bpf_map_lookup_elem(&config, &ifindex);
	if (!cfg) {
		stat_inc(NETRING_ST_NO_CONFIG);
		return TC_ACT_UNSPEC;
	}
	if (cfg->rate == 0)
		return TC_ACT_UNSPEC;
	set = bpf_map_lookup_elem(&settings, &zero);
	if (!set || set->mirror_ifindex == 0)
		return TC_ACT_UNSPEC;

	if (dir == NETRING_DIR_EGRESS) {
		/* Forwarded packets were sampled on the ingress of the interface
		 * they came in on. */
		if (skb->ingress_ifindex != 0) {
			stat_inc(NETRING_ST_SKIP_FORWARDED);
			return TC_ACT_UNSPEC;
		}
		if (cfg->role == NETRING_ROLE_PHYSICAL && is_tunnel(skb, set->flags)) {
			stat_inc(NETRING_ST_SKIP_TUNNEL);
			return TC_ACT_UNSPEC;
		}
	}

	/* p = min(1, segs / N): one draw per skb, so a 45-segment TSO skb is 45
	 * times as likely to be picked as a single segment. */
	if (segs < cfg->rate && bpf_get_prandom_u32() % cfg->rate >= segs)
		return TC_ACT_UNSPEC;

	if (!heartbeat_fresh(set)) {
		stat_inc(NETRING_ST_HEARTBEAT_STALE);
		return TC_ACT_UNSPEC;
	}
	if (ifindex > NETRING_MARK_IFINDEX_MASK) {
		stat_inc(NETRING_ST_SKIP_IFINDEX);
		return TC_ACT_UNSPEC;
	}

	seq = stat_slot(NETRING_ST_SEQ);
	if (!seq)
		return TC_ACT_UNSPEC;
	*seq += 1;

	mark = skb->mark;
	prio = skb->priority;
	skb->mark = (NETRING_MARK_TAG << NETRING_MARK_TAG_SHIFT) |
		    (dir == NETRING_DIR_EGRESS ? NETRING_MARK_DIR_BIT : 0) | ifindex;
	skb->priority = (__u32)*seq;
	stat_inc(NETRING_ST_CLONE_ATTEMPTS);
	ret = bpf_clone_redirect(skb, set->mirror_ifindex, 0);
	skb->mark = mark;
	skb->priority = prio;
	if (ret != 0)
		stat_inc(NETRING_ST_CLONE_FAILURES);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int sampler_ingress(struct __sk_buff *skb)
{
	return sample(skb, NETRING_DIR_INGRESS);
}

SEC("tc")
int sampler_egress(struct __sk_buff *skb)
{
	return sample(skb, NETRING_DIR_EGRESS);
}

char LICENSE[] SEC("license") = "GPL";
