// SPDX-License-Identifier: GPL-2.0
/* The sampler: TC program on pod veths and NICs (tcx or clsact).
 *
 * Per packet it counts the interface exactly, counts the packet's flow
 * exactly in the kernel flow map where that is cheap (settings.exact_mode:
 * GSO/GRO skbs, or every skb), and picks packets to copy onto the mirror
 * link with their metadata in skb->mark, skb->priority and skb->cb (see
 * sample_meta.h): p = min(1, 1 / N) for a packet whose flow counts are exact
 * (the copy serves its headers only), p = min(1, gso_segs / N) for one the
 * estimator must stand for, and p = 1 for the packets always copied (DNS
 * and TCP control packets, see always_copied). It never drops, never ends the chain
 * (TC_ACT_UNSPEC == TCX_NEXT), and never writes the packet's bytes
 * (flow_parse.h only reads).
 */
#include <linux/errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/draw.h"
#include "bpf/flow_key.h"
#include "bpf/flow_parse.h"
#include "bpf/sample_meta.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETRING_MAX_INTERFACES);
	__type(key, __u32);
	__type(value, struct netring_if_config);
} config SEC(".maps");

/* The config of interfaces with ifindex < NETRING_CONFIG_DIRECT, by index
 * (present = 1); the config hash map has every interface, and serves the
 * others and the mirror. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETRING_CONFIG_DIRECT);
	__type(key, __u32);
	__type(value, struct netring_if_config);
} config_direct SEC(".maps");

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

/* Ports (host order) whose TCP and UDP packets, either direction, are DNS:
 * 1 = always copied when NETRING_SET_F_COPY_DNS is set. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} dns_ports SEC(".maps");

/* Connections whose SYN-ACK passed, keyed by their client's end only
 * (address and port in src/src_port, family, protocol and tunnel; the
 * server's end zeroed): a SYN-ACK from the pod behind a Service address
 * passes before the reverse translation, the client's ACK to the Service
 * address before the DNAT, and the client's end is what both show. Value:
 * the SYN-ACK's bpf_ktime_get_ns(). The entry goes when that ACK is copied;
 * LRU so that handshakes that never complete cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct netring_flow_key);
	__type(value, __u64);
} handshakes SEC(".maps");

/* The handshakes map's filter (sample_meta.h, NETRING_HANDSHAKE_SLOTS):
 * shared by the CPUs, since a SYN-ACK and its ACK may pass on two. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETRING_HANDSHAKE_SLOTS);
	__type(key, __u32);
	__type(value, struct netring_handshake_slot);
} handshake_slots SEC(".maps");

/* bpf_ktime_get_ns() of the latest SYN-ACK: until one passed, pure ACKs
 * skip even the slot lookup. A plain store (any recent value will do). */
__u64 last_synack_ns = 0;

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
 * reach one capture socket in order, so a gap there is a lost sample. GSO
 * clones count at NETRING_MAX_QUEUES + queue when they reach a socket of
 * their own (NETRING_SET_F_GSO_APART). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * NETRING_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} seqs SEC(".maps");

/* The copy budget's state per CPU (struct netring_copy_scale): read by user
 * space for the scale in force, written only here. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netring_copy_scale);
} copy_scale SEC(".maps");

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

/* The verifier of Debian 12's kernel (6.1) rejects, without CAP_PERFMON, a
 * narrow store into an 8-byte stack slot that holds a spilled scalar ("attempt
 * to corrupt spilled pointer on stack"); 6.18 accepts it, and which slots the
 * compiler reuses is not ours to choose. So the parsed headers and a new
 * flow's first counts, all narrow fields, live in this per-CPU value (a TC
 * program runs to its end on the CPU it started on), and map keys on the
 * stack are 8-byte variables (a 4-byte key is their low half), each filling a
 * slot of its own: the same rule as in mirror.bpf.c. */
struct netring_scratch {
	struct netring_parsed pk;
	struct netring_flow_counts init;
	struct netring_flow_key client; /* the handshakes map's key (always_copied) */
	__u64 rng;                      /* this CPU's draw state (draw.h) */
	struct netring_l4_peek peek;    /* maybe_copied */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netring_scratch);
} scratch SEC(".maps");

/* 0 sends every packet down the parser's general path (tests compare the
 * two paths over the same frames). Set before load. */
volatile const __u32 parse_fast_path = 1;

static __always_inline void stat_inc(__u32 idx)
{
	__u64 key = idx;
	__u64 *v = bpf_map_lookup_elem(&stats, &key);

	if (v)
		*v += 1;
}

/* 1 with probability num / rate (num < rate), from this CPU's draw. */
static __always_inline int picked(struct netring_scratch *sc, __u32 num, __u32 rate)
{
	return netring_draw_below(&sc->rng, rate) < num;
}

/* The interface's config: by index below NETRING_CONFIG_DIRECT, else from
 * the hash map. */
static __always_inline struct netring_if_config *if_config(__u32 ifindex)
{
	__u64 key = ifindex;
	struct netring_if_config *cfg;

	if (ifindex < NETRING_CONFIG_DIRECT) {
		cfg = bpf_map_lookup_elem(&config_direct, &key);
		return cfg && cfg->present ? cfg : 0;
	}
	return bpf_map_lookup_elem(&config, &key);
}

/* 1 when `port` is one of the DNS ports. */
static __always_inline int dns_port(const struct netring_settings *set, __u16 port)
{
	__u64 key = port;
	__u8 *on;

#pragma unroll
	for (int i = 0; i < NETRING_DNS_PORTS_INLINE; i++)
		if (i < set->dns_port_count && set->dns_port[i] == port)
			return 1;
	if (set->dns_port_count <= NETRING_DNS_PORTS_INLINE)
		return 0;
	on = bpf_map_lookup_elem(&dns_ports, &key);
	return on && *on;
}

/* CLOCK_MONOTONIC ns, late by at most a tick: what the heartbeat, a flow's
 * first and last packet and the handshake window need. The exact clock
 * costs a clocksource read (about 90 ns on a kvm-clock guest), per counted
 * skb; the coarse one is a load. Copies are stamped exactly (mirror.bpf.c),
 * and so are the SYN-ACKs a handshake's timing starts from. */
static __always_inline __u64 coarse_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

static __always_inline int heartbeat_fresh(const struct netring_settings *s)
{
	__u64 zero = 0;
	__u64 *hb = bpf_map_lookup_elem(&heartbeat, &zero);
	__u64 now, last;

	if (!hb)
		return 0;
	last = *hb;
	if (last == 0)
		return 0;
	now = coarse_now();
	/* The agent may have written "now" a moment after our read of the clock. */
	return now <= last || now - last <= s->heartbeat_timeout_ns;
}

/* Adds the packet to its flow's exact counts; 0 when it could not (map
 * full, no map): the packet then stays with the estimator. */
static __always_inline int count_flow(struct netring_scratch *sc, __u32 segs, __u64 wire, __u32 ifindex, __u32 dir)
{
	const struct netring_parsed *pk = &sc->pk;
	struct netring_flow_counts *init = &sc->init;
	__u32 seg_len = pk->ip_len / segs;
	__u64 zero = 0;
	struct netring_flow_counts *c;
	void *flows = bpf_map_lookup_elem(&flow_maps, &zero);
	__u64 now;
	long err;

	if (!flows) {
		stat_inc(NETRING_ST_FLOW_NO_MAP);
		return 0;
	}
	now = coarse_now();
	c = bpf_map_lookup_elem(flows, &pk->key);
	if (!c) {
		__builtin_memset(init, 0, sizeof(*init));
		init->packets = segs;
		init->skbs = 1;
		init->bytes = pk->ip_len;
		init->wire_bytes = wire;
		init->first_ns = now;
		init->last_ns = now;
		init->ifindex = ifindex;
		init->direction = dir;
		init->max_seg = seg_len;
#pragma unroll
		for (int i = 0; i < 8; i++)
			init->tcp_flag_seen[i] = (pk->tcp_flags >> i) & 1;
		err = bpf_map_update_elem(flows, &pk->key, init, BPF_NOEXIST);
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

#define NETRING_TCP_FIN 0x01
#define NETRING_TCP_SYN 0x02
#define NETRING_TCP_RST 0x04
#define NETRING_TCP_PSH 0x08
#define NETRING_TCP_ACK 0x10

/* The handshakes map's key of a packet's client end: its source (the
 * client's ACK) or its destination (the server's SYN-ACK). */
static __always_inline void netring_client_end(struct netring_flow_key *out, const struct netring_parsed *pk,
					       int src)
{
	__builtin_memset(out, 0, sizeof(*out));
	out->family = pk->key.family;
	out->protocol = pk->key.protocol;
	out->tunnel = pk->key.tunnel;
	out->vni = pk->key.vni;
	if (src) {
		__builtin_memcpy(out->src, pk->key.src, 16);
		out->src_port = pk->key.src_port;
	} else {
		__builtin_memcpy(out->src, pk->key.dst, 16);
		out->src_port = pk->key.dst_port;
	}
}

/* The handshake slot of a client end (netring_handshake_slot_of). */
static __always_inline struct netring_handshake_slot *handshake_slot(__u32 fold, __u16 port)
{
	__u64 key = netring_handshake_slot_of(fold, port);

	return bpf_map_lookup_elem(&handshake_slots, &key);
}

/* 0 when no SYN-ACK to the client end (fold, port) can be waiting for its
 * ACK: its slot is at zero, or saw no SYN-ACK within the window. */
static __always_inline int handshake_may_be_open(__u32 fold, __u16 port)
{
	struct netring_handshake_slot *s;
	__u64 now, last;

	if (last_synack_ns == 0)
		return 0;
	s = handshake_slot(fold, port);
	if (!s)
		return 1; /* never: the index is below max_entries */
	if (s->pending == 0)
		return 0;
	last = s->last_ns;
	now = coarse_now();
	return !(now > last && now - last > NETRING_HANDSHAKE_WINDOW_NS);
}

/* A SYN-ACK to the client end (fold, port) at `now`: one more handshake
 * pending in its slot. A slot idle past the window starts over at one (its
 * count was of handshakes that never completed); two CPUs restarting the
 * same slot in the same instant could leave it one short, which at worst
 * loses one of those two handshakes' ACKs. */
static __always_inline void handshake_opened(__u32 fold, __u16 port, __u64 now)
{
	struct netring_handshake_slot *s = handshake_slot(fold, port);

	if (!s)
		return;
	if (s->last_ns == 0 || (now > s->last_ns && now - s->last_ns > NETRING_HANDSHAKE_WINDOW_NS))
		s->pending = 1;
	else
		__sync_fetch_and_add(&s->pending, 1);
	s->last_ns = now;
}

/* The ACK of a handshake took its entry: one fewer pending. */
static __always_inline void handshake_closed(__u32 fold, __u16 port)
{
	struct netring_handshake_slot *s = handshake_slot(fold, port);

	if (s && s->pending > 0)
		__sync_fetch_and_add(&s->pending, -1);
}

/* 1 when the packet is always copied (p = 1): a handful of compares on the
 * parsed headers (the DNS ports too, unless more than
 * NETRING_DNS_PORTS_INLINE are set); map lookups only for the SYN-ACKs and
 * for the pure ACKs whose handshake slot may hold an open handshake. */
static __always_inline int always_copied(const struct netring_settings *set, struct netring_scratch *sc)
{
	const struct netring_parsed *pk = &sc->pk;
	struct netring_flow_key *client = &sc->client;
	__u32 flags = set->flags;
	__u8 proto = pk->key.protocol;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	if ((flags & NETRING_SET_F_COPY_DNS) && (dns_port(set, pk->key.src_port) || dns_port(set, pk->key.dst_port)))
		return 1;
	if (proto != IPPROTO_TCP || !(flags & NETRING_SET_F_COPY_TCP_CONTROL))
		return 0;
	if ((pk->tcp_flags & (NETRING_TCP_SYN | NETRING_TCP_ACK)) == (NETRING_TCP_SYN | NETRING_TCP_ACK)) {
		__u64 now = bpf_ktime_get_ns();

		netring_client_end(client, pk, 0);
		bpf_map_update_elem(&handshakes, client, &now, BPF_ANY);
		handshake_opened(netring_fold_key_addr(pk->key.dst, pk->key.family), pk->key.dst_port, now);
		last_synack_ns = now;
		return 1;
	}
	if (pk->tcp_flags & (NETRING_TCP_SYN | NETRING_TCP_FIN | NETRING_TCP_RST))
		return 1;
	/* The handshake's third packet: ACK alone. */
	if ((pk->tcp_flags & (NETRING_TCP_ACK | NETRING_TCP_PSH)) == NETRING_TCP_ACK) {
		__u32 fold = netring_fold_key_addr(pk->key.src, pk->key.family);
		__u64 *t;

		if (!handshake_may_be_open(fold, pk->key.src_port))
			return 0;
		netring_client_end(client, pk, 1);
		t = bpf_map_lookup_elem(&handshakes, client);
		if (!t)
			return 0;
		/* Only the CPU whose delete took the entry closes it in the slot. */
		if (bpf_map_delete_elem(&handshakes, client) == 0)
			handshake_closed(fold, pk->key.src_port);
		return 1;
	}
	return 0;
}

/* 0 when the packet is surely not one always_copied() takes, read without
 * building its key (netring_peek_l4); 1 when it may be, or its shape is not
 * one the peek reads: always_copied() on the full parse then decides. The
 * same tests, on the same fields, as always_copied(). */
static __always_inline int maybe_copied(struct __sk_buff *skb, const struct netring_settings *set,
					struct netring_scratch *sc)
{
	struct netring_l4_peek *p = &sc->peek;
	__u32 flags = set->flags;

	if (!netring_peek_l4(skb, &tunnel_ports, p))
		return 1;
	if ((flags & NETRING_SET_F_COPY_DNS) && (dns_port(set, p->src_port) || dns_port(set, p->dst_port)))
		return 1;
	if (p->protocol != IPPROTO_TCP || !(flags & NETRING_SET_F_COPY_TCP_CONTROL))
		return 0;
	if (p->tcp_flags & (NETRING_TCP_SYN | NETRING_TCP_FIN | NETRING_TCP_RST))
		return 1;
	/* A pure ACK whose client end's slot may hold an open handshake: the
	 * handshakes map decides. */
	return (p->tcp_flags & (NETRING_TCP_ACK | NETRING_TCP_PSH)) == NETRING_TCP_ACK &&
	       handshake_may_be_open(p->src_fold, p->src_port);
}

/* The rate this CPU draws at under a copy budget: N * scale. The state is
 * looked up here and again in budget_copy, not held across the draw: 6.1's
 * verifier, without CAP_PERFMON, lost track of a nullable map value pointer
 * kept live over the draw's code (it read it as a scalar). */
static __always_inline __u32 scaled_rate(__u32 rate)
{
	__u64 zero = 0, r;
	struct netring_copy_scale *cs = bpf_map_lookup_elem(&copy_scale, &zero);

	if (!cs || cs->scale <= 1)
		return rate;
	r = (__u64)rate * cs->scale;
	return r > NETRING_COPY_RATE_MAX ? NETRING_COPY_RATE_MAX : (__u32)r;
}

/* A drawn copy under a copy budget of `budget` a second (sample_meta.h,
 * struct netring_copy_scale): counts it, and at a window's end sets the
 * scale the next draws take. Per CPU, and a TC program runs to its end on
 * its CPU: no atomics. */
static __always_inline void budget_copy(__u32 budget)
{
	__u64 zero = 0, now, elapsed, per_s, target, scale;
	struct netring_copy_scale *cs = bpf_map_lookup_elem(&copy_scale, &zero);

	if (!cs)
		return;
	now = coarse_now();
	elapsed = now - cs->window_start_ns;
	cs->copies += 1;
	if (elapsed < NETRING_COPY_WINDOW_NS)
		return;
	per_s = (__u64)cs->copies * 1000000000ULL / elapsed;
	if (per_s > 0xffffffffULL)
		per_s = 0xffffffffULL;
	scale = cs->scale ? cs->scale : 1;
	if (per_s > budget || per_s * 2 < budget) {
		target = (__u64)budget * 3 / 4;
		if (target == 0)
			target = 1;
		scale = (scale * per_s + target - 1) / target;
		if (scale < 1)
			scale = 1;
		if (scale > NETRING_COPY_SCALE_MAX)
			scale = NETRING_COPY_SCALE_MAX;
		if (scale > cs->scale && scale > 1)
			cs->raises += 1;
		cs->scale = (__u32)scale;
	}
	cs->window_start_ns = now;
	cs->copies = 0;
}

/* The interface's exact counters (per-CPU: no atomics). */
static __always_inline void count_interface(const struct netring_if_config *cfg, __u32 dir, __u32 segs, __u32 len,
					    __u64 wire, int gso_unparsed)
{
	__u64 key = cfg->slot * 2 + dir;
	struct netring_if_counters *ifc = bpf_map_lookup_elem(&if_counters, &key);

	if (!ifc)
		return;
	ifc->skbs += 1;
	ifc->segs += segs;
	ifc->bytes += len;
	ifc->wire_bytes += wire;
	if (gso_unparsed)
		ifc->gso_unparsed += 1;
}

static __always_inline int sample(struct __sk_buff *skb, __u32 dir)
{
	__u32 segs = skb->gso_segs ? skb->gso_segs : 1;
	__u32 ifindex = skb->ifindex, len = skb->len, queue = 0, flags = 0, num, mark, prio, rate = 1;
	__u32 cb0, cb1, cb2;
	__u64 zero = 0, key;
	struct netring_if_config *cfg;
	struct netring_settings *set;
	struct netring_scratch *sc;
	struct netring_parsed *pk;
	int parsed = -1; /* -1: not tried; else a netring_parse_result */
	int counting, counted = 0, forced = 0;
	__u64 wire = len;
	__u32 *seq;
	long ret;

	cfg = if_config(ifindex);
	if (!cfg) {
		stat_inc(NETRING_ST_NO_CONFIG);
		return TC_ACT_UNSPEC;
	}
	/* Exactly once: every packet on an ingress hook; on egress only what
	 * this node originates (forwarded packets were counted where they came
	 * in), and not the encapsulations leaving a NIC, whose inner packets
	 * were counted at the pod veth (encapsulation resets ingress_ifindex). */
	counting = dir == NETRING_DIR_INGRESS || skb->ingress_ifindex == 0;
	if (!counting) {
		stat_inc(NETRING_ST_SKIP_FORWARDED);
		/* A forwarded single frame (every packet a pod receives, unless
		 * GRO merged it) needs nothing past its interface's counters: no
		 * settings, no scratch, no parse. */
		if (segs == 1) {
			count_interface(cfg, dir, 1, len, len, 0);
			return TC_ACT_UNSPEC;
		}
	}
	set = bpf_map_lookup_elem(&settings, &zero);
	if (!set)
		return TC_ACT_UNSPEC;
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return TC_ACT_UNSPEC; /* never: index 0 of a one-entry array */
	pk = &sc->pk;

	if (counting && dir == NETRING_DIR_EGRESS && cfg->role == NETRING_ROLE_PHYSICAL) {
		parsed = netring_parse(skb, &tunnel_ports, pk, parse_fast_path);
		if ((pk->outer_port_flags & NETRING_PORT_SKIP_EGRESS) ||
		    (pk->outer_protocol == IPPROTO_IPIP && (set->flags & NETRING_SET_F_SKIP_IPIP)) ||
		    (pk->outer_protocol == IPPROTO_IPV6 && (set->flags & NETRING_SET_F_SKIP_IP6IP))) {
			stat_inc(NETRING_ST_SKIP_TUNNEL);
			counting = 0;
		}
	}

	/* GSO/GRO skbs: the headers every segment repeats make the wire bytes. */
	if (segs > 1) {
		if (parsed < 0)
			parsed = netring_parse(skb, &tunnel_ports, pk, parse_fast_path);
		if (parsed == NETRING_PARSE_OK)
			wire = len + (__u64)(segs - 1) * pk->hdr_len;
	}
	count_interface(cfg, dir, segs, len, wire, segs > 1 && parsed != NETRING_PARSE_OK);
	if (!counting)
		return TC_ACT_UNSPEC;

	if (set->exact_mode == NETRING_EXACT_ALL || (set->exact_mode == NETRING_EXACT_BULK && segs > 1)) {
		if (parsed < 0)
			parsed = netring_parse(skb, &tunnel_ports, pk, parse_fast_path);
		switch (parsed) {
		case NETRING_PARSE_OK:
			counted = count_flow(sc, segs, wire, ifindex, dir);
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

	if (set->mirror_ifindex == 0)
		return TC_ACT_UNSPEC;
	if ((set->flags & (NETRING_SET_F_COPY_DNS | NETRING_SET_F_COPY_TCP_CONTROL)) &&
	    (parsed >= 0 || !parse_fast_path || maybe_copied(skb, set, sc))) {
		if (parsed < 0)
			parsed = netring_parse(skb, &tunnel_ports, pk, parse_fast_path);
		if (parsed == NETRING_PARSE_OK)
			forced = always_copied(set, sc);
	}
	if (forced) {
		flags |= NETRING_SAMPLE_F_FORCED;
		stat_inc(NETRING_ST_FORCED);
	} else {
		rate = cfg->rate;
		if (rate == 0)
			return TC_ACT_UNSPEC;
		/* 1:1 asks for every packet: never scaled. */
		if (set->copy_budget && rate > 1)
			rate = scaled_rate(rate);
		/* An exactly counted packet is copied for its headers: one draw per
		 * skb at 1/N. Any other stands for the unseen ones: p = min(1, segs / N),
		 * so a 45-segment TSO skb is 45 times as likely to be picked. */
		num = counted ? 1 : segs;
		if (num < rate && !picked(sc, num, rate))
			return TC_ACT_UNSPEC;
		/* Counted against the budget once drawn, whether or not a stale
		 * heartbeat or a failed clone then stops it: the draw rate is what
		 * the budget steers. */
		if (set->copy_budget && cfg->rate > 1) {
			budget_copy(set->copy_budget);
			if (rate != cfg->rate)
				stat_inc(NETRING_ST_SCALED);
		}
	}

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
			parsed = netring_parse(skb, &tunnel_ports, pk, parse_fast_path);
		/* A flow's samples go to one worker, where its exact counts go too;
		 * what has no key here spreads by CPU. */
		if (parsed == NETRING_PARSE_OK)
			queue = netring_flow_key_hash(&pk->key) % set->mirror_queues;
		else
			queue = bpf_get_smp_processor_id() % set->mirror_queues;
	}
	if (queue >= NETRING_MAX_QUEUES)
		return TC_ACT_UNSPEC;
	key = queue;
	if ((set->flags & NETRING_SET_F_GSO_APART) && skb->gso_size != 0)
		key += NETRING_MAX_QUEUES;
	seq = bpf_map_lookup_elem(&seqs, &key);
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
	/* A forced copy was taken with p = 1: it stands for itself alone. A
	 * drawn one carries the rate it was drawn at, scaled or not. */
	skb->cb[1] = rate;
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
