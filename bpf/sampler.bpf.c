// SPDX-License-Identifier: GPL-2.0
/* The sampler: TC program on pod veths and NICs (tcx or clsact).
 *
 * Per packet it counts the interface exactly, counts the packet's flow
 * exactly in the kernel flow map where that is cheap (settings.exact_mode:
 * GSO/GRO skbs, or every skb), and picks packets to copy onto the mirror
 * link with their metadata in skb->mark, skb->priority and skb->cb (see
 * sample_meta.h): p = min(1, 1 / N) for a packet whose flow counts are exact
 * (the copy serves its headers only), p = min(1, gso_segs / N) for one the
 * estimator must stand for. It never drops, never ends the chain
 * (TC_ACT_UNSPEC == TCX_NEXT), and never writes the packet's bytes
 * (flow_parse.h only reads).
 */
#include <linux/errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/flow_key.h"
#include "bpf/flow_parse.h"
#include "bpf/sample_meta.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETRING_MAX_INTERFACES);
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

/* UDP destination ports (host order): NETRING_PORT_* flags (flow_parse.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} tunnel_ports SEC(".maps");

/* Exact interface counters, two slots (directions) per hooked interface: an
 * array, so a full map cannot lose counts and a lookup is an index. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_MAX_INTERFACES * 2);
	__type(key, __u32);
	__type(value, struct netring_if_counters);
} if_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_ST__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Sequence numbers per CPU and mirror queue: a CPU's samples for one queue
 * reach one capture socket in order, so a gap there is a lost sample. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} seqs SEC(".maps");

/* Exact per-flow counts. Two such maps take turns: flow_maps[0] is the one
 * the program writes; user space swaps in the other (a map-in-map update
 * waits for an RCU grace period, so no program still holds the old one when
 * the syscall returns) and drains the old one at leisure, losing nothing. */
/* Not preallocated: the maps hold only the flows of one period and are
 * emptied at every drain, so their memory follows the traffic (an insert
 * allocates, once per flow per period) instead of pinning max_entries of
 * kernel memory twice over. */
struct flow_counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct netring_flow_key);
	__type(value, struct netring_flow_counts);
} flows_a SEC(".maps"), flows_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_counts_map);
} flow_maps SEC(".maps") = {
	.values = { [0] = &flows_a },
};

/* 0 sends every packet down the parser's general path (tests compare the
 * two paths over the same frames). Set before load. */
volatile const __u32 parse_fast_path = 1;

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
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

/* Adds the packet to its flow's exact counts; 0 when it could not (map
 * full, no map): the packet then stays with the estimator. */
static __always_inline int count_flow(const struct netring_parsed *pk, __u32 segs, __u64 wire, __u32 ifindex,
				      __u32 dir)
{
	__u32 zero = 0, seg_len = pk->ip_len / segs;
	struct netring_flow_counts *c;
	void *flows = bpf_map_lookup_elem(&flow_maps, &zero);
	__u64 now;
	long err;

	if (!flows) {
		stat_inc(NETRING_ST_FLOW_NO_MAP);
		return 0;
	}
	now = bpf_ktime_get_ns();
	c = bpf_map_lookup_elem(flows, &pk->key);
	if (!c) {
		struct netring_flow_counts init = {
			.packets = segs,
			.skbs = 1,
			.bytes = pk->ip_len,
			.wire_bytes = wire,
			.first_ns = now,
			.last_ns = now,
			.ifindex = ifindex,
			.direction = dir,
			.max_seg = seg_len,
		};

#pragma unroll
		for (int i = 0; i < 8; i++)
			init.tcp_flag_seen[i] = (pk->tcp_flags >> i) & 1;
		err = bpf_map_update_elem(flows, &pk->key, &init, BPF_NOEXIST);
		if (err == 0)
			return 1;
		/* Another CPU inserted it first: add to theirs. */
		c = err == -EEXIST ? bpf_map_lookup_elem(flows, &pk->key) : 0;
		if (!c) {
			stat_inc(NETRING_ST_FLOW_MAP_FULL);
			return 0;
		}
	}
	__sync_fetch_and_add(&c->packets, segs);
	__sync_fetch_and_add(&c->skbs, 1);
	__sync_fetch_and_add(&c->bytes, pk->ip_len);
	__sync_fetch_and_add(&c->wire_bytes, wire);
	c->last_ns = now;
	c->ifindex = ifindex;
	c->direction = dir;
	/* Racy max: a larger value from another CPU may be overwritten by a
	 * smaller one only if both land in the same instant; the bound it
	 * feeds (estimator.hpp, unseen_variance) takes the flow's samples too. */
	if (seg_len > c->max_seg)
		c->max_seg = seg_len;
	if (pk->tcp_flags) {
#pragma unroll
		for (int i = 0; i < 8; i++)
			if (((pk->tcp_flags >> i) & 1) && !c->tcp_flag_seen[i])
				c->tcp_flag_seen[i] = 1;
	}
	return 1;
}

static __always_inline int sample(struct __sk_buff *skb, __u32 dir)
{
	__u32 segs = skb->gso_segs ? skb->gso_segs : 1;
	__u32 zero = 0, ifindex = skb->ifindex, len = skb->len, slot, queue = 0, flags = 0, num, mark, prio;
	__u32 cb0, cb1, cb2;
	struct netring_if_config *cfg;
	struct netring_settings *set;
	struct netring_if_counters *ifc;
	struct netring_parsed pk;
	int parsed = -1; /* -1: not tried; else a netring_parse_result */
	int counting, counted = 0;
	__u64 wire = len;
	__u32 *seq;
	long ret;

	cfg = bpf_map_lookup_elem(&config, &ifindex);
	if (!cfg) {
		stat_inc(NETRING_ST_NO_CONFIG);
		return TC_ACT_UNSPEC;
	}
	set = bpf_map_lookup_elem(&settings, &zero);
	if (!set)
		return TC_ACT_UNSPEC;

	/* Exactly once: every packet on an ingress hook; on egress only what
	 * this node originates (forwarded packets were counted where they came
	 * in), and not the encapsulations leaving a NIC, whose inner packets
	 * were counted at the pod veth (encapsulation resets ingress_ifindex). */
	counting = dir == NETRING_DIR_INGRESS || skb->ingress_ifindex == 0;
	if (!counting)
		stat_inc(NETRING_ST_SKIP_FORWARDED);
	if (counting && dir == NETRING_DIR_EGRESS && cfg->role == NETRING_ROLE_PHYSICAL) {
		parsed = netring_parse(skb, &tunnel_ports, &pk, parse_fast_path);
		if ((pk.outer_port_flags & NETRING_PORT_SKIP_EGRESS) ||
		    (pk.outer_protocol == IPPROTO_IPIP && (set->flags & NETRING_SET_F_SKIP_IPIP)) ||
		    (pk.outer_protocol == IPPROTO_IPV6 && (set->flags & NETRING_SET_F_SKIP_IP6IP))) {
			stat_inc(NETRING_ST_SKIP_TUNNEL);
			counting = 0;
		}
	}

	/* GSO/GRO skbs: the headers every segment repeats make the wire bytes. */
	if (segs > 1) {
		if (parsed < 0)
			parsed = netring_parse(skb, &tunnel_ports, &pk, parse_fast_path);
		if (parsed == NETRING_PARSE_OK)
			wire = len + (__u64)(segs - 1) * pk.hdr_len;
	}
	slot = cfg->slot * 2 + dir;
	ifc = bpf_map_lookup_elem(&if_counters, &slot);
	if (ifc) {
		/* Per-CPU values: no atomics needed. */
		ifc->skbs += 1;
		ifc->segs += segs;
		ifc->bytes += len;
		ifc->wire_bytes += wire;
		if (segs > 1 && parsed != NETRING_PARSE_OK)
			ifc->gso_unparsed += 1;
	}
	if (!counting)
		return TC_ACT_UNSPEC;

	if (set->exact_mode == NETRING_EXACT_ALL || (set->exact_mode == NETRING_EXACT_BULK && segs > 1)) {
		if (parsed < 0)
			parsed = netring_parse(skb, &tunnel_ports, &pk, parse_fast_path);
		switch (parsed) {
		case NETRING_PARSE_OK:
			counted = count_flow(&pk, segs, wire, ifindex, dir);
			break;
		case NETRING_PARSE_DECLINED: stat_inc(NETRING_ST_FLOW_DECLINED); break;
		case NETRING_PARSE_MALFORMED: stat_inc(NETRING_ST_FLOW_MALFORMED); break;
		default: break; /* not IP: no flow */
		}
		if (counted) {
			stat_inc(NETRING_ST_FLOW_COUNTED);
			flags |= NETRING_SAMPLE_F_COUNTED;
		}
	}

	if (cfg->rate == 0 || set->mirror_ifindex == 0)
		return TC_ACT_UNSPEC;
	/* An exactly counted packet is copied for its headers: one draw per
	 * skb at 1/N. Any other stands for the unseen ones: p = min(1, segs / N),
	 * so a 45-segment TSO skb is 45 times as likely to be picked. */
	num = counted ? 1 : segs;
	if (num < cfg->rate && bpf_get_prandom_u32() % cfg->rate >= num)
		return TC_ACT_UNSPEC;

	if (!heartbeat_fresh(set)) {
		stat_inc(NETRING_ST_HEARTBEAT_STALE);
		return TC_ACT_UNSPEC;
	}
	if (ifindex > NETRING_MARK_IFINDEX_MASK) {
		stat_inc(NETRING_ST_SKIP_IFINDEX);
		return TC_ACT_UNSPEC;
	}

	if (set->mirror_queues > 1) {
		if (parsed < 0)
			parsed = netring_parse(skb, &tunnel_ports, &pk, parse_fast_path);
		/* A flow's samples go to one worker, where its exact counts go too;
		 * what has no key here spreads by CPU. */
		if (parsed == NETRING_PARSE_OK)
			queue = netring_flow_key_hash(&pk.key) % set->mirror_queues;
		else
			queue = bpf_get_smp_processor_id() % set->mirror_queues;
	}
	if (queue >= NETRING_MAX_QUEUES)
		return TC_ACT_UNSPEC;
	seq = bpf_map_lookup_elem(&seqs, &queue);
	if (!seq)
		return TC_ACT_UNSPEC;
	*seq += 1;

	mark = skb->mark;
	prio = skb->priority;
	cb0 = skb->cb[0];
	cb1 = skb->cb[1];
	cb2 = skb->cb[2];
	skb->mark = (NETRING_MARK_TAG << NETRING_MARK_TAG_SHIFT) |
		    (dir == NETRING_DIR_EGRESS ? NETRING_MARK_DIR_BIT : 0) | ifindex;
	skb->priority = *seq;
	skb->cb[0] = NETRING_CB_MAGIC;
	skb->cb[1] = cfg->rate;
	skb->cb[2] = queue | (flags << NETRING_CB_FLAGS_SHIFT);
	stat_inc(NETRING_ST_CLONE_ATTEMPTS);
	ret = bpf_clone_redirect(skb, set->mirror_ifindex, 0);
	skb->mark = mark;
	skb->priority = prio;
	skb->cb[0] = cb0;
	skb->cb[1] = cb1;
	skb->cb[2] = cb2;
	if (ret == -ENOMEM)
		stat_inc(NETRING_ST_CLONE_NOMEM);
	else if (ret != 0)
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
