// SPDX-License-Identifier: GPL-2.0
/* Packet drops: raw tracepoint on skb:kfree_skb.
 *
 * The kernel frees an skb it drops with kfree_skb_reason() (kfree_skb() is
 * kfree_skb_reason(skb, SKB_DROP_REASON_NOT_SPECIFIED)) and one it is done
 * with, delivered or sent, with consume_skb(): that one fires skb:consume_skb,
 * not this tracepoint. Since 6.2 kfree_skb_reason(skb, SKB_CONSUMED) goes to
 * consume_skb's tracepoint too. So every hit here is a drop by the kernel's
 * own definition, NOT_SPECIFIED included (a plain kfree_skb() caller declares
 * a drop without naming why); only SKB_NOT_DROPPED_YET and SKB_CONSUMED are
 * skipped, should they ever arrive. Their values are set before load from
 * the kernel's BTF (user space, pkg/kevents/drop_reasons.cpp), because the
 * enum's numbering differs between kernels (6.1 has no SKB_CONSUMED).
 *
 * Arguments (include/trace/events/skb.h): (skb, location, reason) since
 * 5.17, with rx_sk added fourth in 6.12; reason is args[2] on all of them.
 *
 * Per drop: the packet's flow key (when it has an IPv4/IPv6 header the
 * program can read), counted by (flow, reason) into the drop map, by reason
 * into the CPU's drop_cpu entry (exact even when the map is full), and, at
 * most events_per_sec per CPU, its details into the ring buffer.
 *
 * Two programs, one body. netring_kfree_skb_btf (tp_btf, kernels with BTF,
 * which CO-RE needs anyway) reads the skb's and the device's fields as plain
 * loads: the verifier knows their types, and a load through a bad pointer is
 * fixed up to 0 by the kernel, not a fault. netring_kfree_skb (raw_tp) reads
 * each through bpf_probe_read_kernel, a helper call apiece; it is the one
 * BPF_PROG_TEST_RUN can run (the kernel runs no tp_btf program on demand)
 * and the fallback where tp_btf does not load. In a drop storm (every packet
 * of a flood dropped) the per-drop cost is the whole cost: the packet's
 * header bytes are one read, not three.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/draw.h"
#include "bpf/kernel_types.h"
#include "bpf/kevents.h"

char LICENSE[] SEC("license") = "GPL";

/* Set before load. */
volatile const __u32 reason_not_dropped = 0;    /* SKB_NOT_DROPPED_YET */
volatile const __u32 reason_consumed = ~0U;     /* SKB_CONSUMED, ~0: the kernel has none */
volatile const __u32 events_per_sec = 100;      /* per CPU; 0: no details */
/* Drop storms: past storm_drops_per_sec drops in a CPU's second (0: never),
 * one drop in N is attributed to its flow, counting for N (Horvitz-Thompson:
 * the per-flow counts stay unbiased, and are marked estimated); the others
 * only count by reason, exactly as always. N is storm_one_in, or the
 * previous second's drops / storm_drops_per_sec when that is larger, so a
 * storm of any rate attributes at most about storm_drops_per_sec more drops
 * a second. A flood dropped at line rate then costs each drop a few loads
 * and a random number, not a header read and a hash map update. */
volatile const __u32 storm_drops_per_sec = 0;
volatile const __u32 storm_one_in = 1;
/* The agent's mirror link: the samples it carries are the agent's, and in
 * the AF_PACKET fallback the stack frees each one after the socket took its
 * copy. Not drops of the node's traffic. */
volatile const __u32 ignore_ifindex[NETRING_DROP_IGNORE_MAX] = {};
volatile const __u32 ignore_netns = 0;

/* Preallocated (the default): tracing programs may run where allocating is
 * not allowed, and a full map must fail fast, not allocate. */
struct drop_counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct netring_drop_key);
	__type(value, struct netring_drop_counts);
} drops_a SEC(".maps"), drops_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct drop_counts_map);
} drop_maps SEC(".maps") = {
	.values = { [0] = &drops_a },
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} drop_events SEC(".maps");

/* Bumped by user space after each swap of the drop maps (DropMonitor::drain):
 * a CPU that found the map full stops trying to insert into it (a failed
 * insert into a full preallocated hash is a lookup, an update and a second
 * lookup, calls all, per drop) until the next map is in the slot. */
__u64 map_gen = 0;

/* Per CPU, no atomics, no shared cache line (struct netring_drop_cpu,
 * kevents.h): the counters, the rate limit's window, and the clock read at
 * the latest jiffy. In a drop storm bpf_ktime_get_ns()
 * per drop is a good part of the program's cost (about 90 ns a read on a
 * kvm-clock guest); bpf_ktime_get_coarse_ns() would do, but tracing
 * programs may not call it (it could deadlock on the timekeeper's seqlock).
 * jiffies is a plain load: the clock is read again once the jiffy moved,
 * so a drop's time is late by at most a tick (4 ms at HZ=250), and the
 * detailed events, rate-limited, read it exactly. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netring_drop_cpu);
} drop_cpu SEC(".maps");

static __always_inline void stat_inc(struct netring_drop_cpu *cpu, __u32 idx)
{
	cpu->stats[idx] += 1;
}

static __always_inline void set_v4(__u8 *dst, __u32 be_addr)
{
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &be_addr, 4);
}

/* The skb's fields the body needs, read by either program's way. */
struct skb_fields {
	unsigned char *head;
	unsigned char *data;
	__u32 len;
	__u16 protocol; /* __be16 */
	__u16 network_header;
	__u32 ifindex;
	__u32 netns; /* the device's network namespace inode, when asked */
};

/* The IP header and the 4 bytes after a header without options (IPv4) or
 * extension headers (IPv6): the ports, or ICMP's type and code. */
union l3_bytes {
	struct {
		struct iphdr ip;
		__u16 ports[2];
	} v4;
	struct {
		struct ipv6hdr ip6;
		__u16 ports[2];
	} v6;
};

static __always_inline void set_ports(struct netring_flow_key *k, const __u16 *ports)
{
	switch (k->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
		k->src_port = bpf_ntohs(ports[0]);
		k->dst_port = bpf_ntohs(ports[1]);
		break;
	case IPPROTO_ICMP:
	case 58: /* IPPROTO_ICMPV6 */
		k->dst_port = bpf_ntohs(ports[0]); /* type << 8 | code */
		break;
	}
}

/* The flow key and L3 length of the dropped skb, read from its network
 * header. 0 when it has none we can read (ARP, netlink, an skb dropped
 * before its headers were set). One read of the header and what follows it:
 * the ports count only when the packet is long enough to hold them, and an
 * IPv4 header with options (rare) costs a second read. Fragments after the
 * first and IPv6 extension headers keep ports 0: the key then names the
 * hosts and the protocol only. */
static __always_inline int parse_skb(const struct skb_fields *f, struct netring_flow_key *k, __u32 *l3_len)
{
	union l3_bytes b;
	unsigned char *l3;
	__u32 hlen;

	if (!f->head || (f->protocol != bpf_htons(ETH_P_IP) && f->protocol != bpf_htons(ETH_P_IPV6)))
		return 0;
	l3 = f->head + f->network_header;
	/* skb->len counts from skb->data, which may sit before the network
	 * header (L2 on transmit) or after it (pulled, at the socket). */
	*l3_len = (__u32)((long)f->len + (long)(f->data - l3));

	if (f->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_probe_read_kernel(&b.v4, sizeof(b.v4), l3) != 0 || b.v4.ip.version != 4 || b.v4.ip.ihl < 5)
			return 0;
		k->family = 4;
		k->protocol = b.v4.ip.protocol;
		set_v4(k->src, b.v4.ip.saddr);
		set_v4(k->dst, b.v4.ip.daddr);
		hlen = b.v4.ip.ihl * 4;
		if ((b.v4.ip.frag_off & bpf_htons(0x1fff)) != 0 || *l3_len < hlen + 4)
			return 1;
		if (hlen == sizeof(b.v4.ip) ||
		    bpf_probe_read_kernel(b.v4.ports, sizeof(b.v4.ports), l3 + (hlen & 0x3c)) == 0)
			set_ports(k, b.v4.ports);
		return 1;
	}
	if (bpf_probe_read_kernel(&b.v6, sizeof(b.v6), l3) != 0 || b.v6.ip6.version != 6)
		return 0;
	k->family = 6;
	k->protocol = b.v6.ip6.nexthdr;
	__builtin_memcpy(k->src, &b.v6.ip6.saddr, 16);
	__builtin_memcpy(k->dst, &b.v6.ip6.daddr, 16);
	if (*l3_len >= sizeof(b.v6.ip6) + 4)
		set_ports(k, b.v6.ports);
	return 1;
}

/* 1 when the drop is on one of the agent's ignored links: the interface
 * index matches, and then (the same index may exist in every namespace) the
 * namespace, which only then is read. */
static __always_inline int ignored_ifindex(__u32 ifindex)
{
	int i;

	if (ignore_netns == 0 || ifindex == 0)
		return 0;
	for (i = 0; i < NETRING_DROP_IGNORE_MAX; i++)
		if (ignore_ifindex[i] == ifindex)
			return 1;
	return 0;
}

/* CLOCK_MONOTONIC ns, at most a tick old. */
static __always_inline __u64 tick_clock(struct netring_drop_cpu *cpu)
{
	__u64 j = bpf_jiffies64();

	if (j != cpu->jiffies || cpu->clock_ns == 0) {
		cpu->jiffies = j;
		cpu->clock_ns = bpf_ktime_get_ns();
	}
	return cpu->clock_ns;
}

/* Longest odds of a storm: a weight stays a small integer. */
#define STORM_ONE_IN_MAX 65536

static __always_inline void roll_window(struct netring_drop_cpu *cpu, __u64 now)
{
	__u64 elapsed = now - cpu->window_start_ns, one_in = storm_one_in;

	if (elapsed >= 1000000000ULL) {
		/* The second that just ended sets this one's odds, before any
		 * draw in it: each attributed drop's weight is still 1/p of the
		 * draw that picked it. After a quiet spell (the last window is
		 * older than a second ago) the odds start over. */
		if (storm_drops_per_sec != 0 && elapsed < 2000000000ULL &&
		    cpu->window_drops / storm_drops_per_sec > one_in)
			one_in = cpu->window_drops / storm_drops_per_sec;
		cpu->one_in = one_in < STORM_ONE_IN_MAX ? one_in : STORM_ONE_IN_MAX;
		cpu->window_start_ns = now;
		cpu->window_sent = 0;
		cpu->window_drops = 0;
	}
}

static __always_inline int rate_allows(struct netring_drop_cpu *cpu)
{
	if (events_per_sec == 0 || cpu->window_sent >= events_per_sec)
		return 0;
	cpu->window_sent += 1;
	return 1;
}

/* How many drops this one stands for in its flow's counts: 1, or in a
 * storm N for one drop in N and 0 for the others. */
static __always_inline __u32 storm_weight(struct netring_drop_cpu *cpu)
{
	__u32 one_in = cpu->one_in ? (__u32)cpu->one_in : storm_one_in;

	cpu->window_drops += 1;
	if (storm_drops_per_sec == 0 || cpu->window_drops <= storm_drops_per_sec || one_in <= 1)
		return 1;
	return netring_draw_below(&cpu->rng, one_in) == 0 ? one_in : 0;
}

/* Counts one drop whose skb fields are read (f is zeroed when there is no
 * skb). */
static __always_inline int count_drop(struct netring_drop_cpu *cpu, const struct skb_fields *f, __u32 reason,
				      __u64 location)
{
	struct netring_drop_key key = {};
	struct netring_drop_counts *c;
	__u32 zero = 0, ifindex = f->ifindex, l3_len = 0, weight;
	__u64 now;
	void *map;

	stat_inc(cpu, NETRING_DROP_STAT_COUNTED);
	cpu->reasons[reason < NETRING_DROP_REASON_SLOTS ? reason : NETRING_DROP_REASON_SLOTS - 1] += 1;

	now = tick_clock(cpu);
	roll_window(cpu, now);
	weight = storm_weight(cpu);
	if (weight == 0) {
		stat_inc(cpu, NETRING_DROP_STAT_STORM_SKIPPED);
		return 0;
	}

	if (!parse_skb(f, &key.flow, &l3_len)) {
		__builtin_memset(&key.flow, 0, sizeof(key.flow));
		l3_len = 0;
		stat_inc(cpu, NETRING_DROP_STAT_UNPARSED);
	}
	key.reason = reason;

	map = bpf_map_lookup_elem(&drop_maps, &zero);
	if (!map) {
		stat_inc(cpu, NETRING_DROP_STAT_NO_MAP);
	} else {
		__u64 gen = map_gen + 1;

		c = bpf_map_lookup_elem(map, &key);
		if (!c && cpu->full_gen == gen) {
			stat_inc(cpu, NETRING_DROP_STAT_MAP_FULL);
			goto event;
		}
		if (!c) {
			/* The drop's own counts go in with the entry. */
			struct netring_drop_counts init = {
				.packets = weight,
				.bytes = (__u64)l3_len * weight,
				.first_ns = now,
				.last_ns = now,
				.ifindex = ifindex,
				.estimated = weight > 1,
			};
			long err = bpf_map_update_elem(map, &key, &init, BPF_NOEXIST);

			if (err == 0)
				goto event;
			/* -EEXIST: a CPU racing us to the first insert won, we add
			 * to its entry; anything else: full. */
			c = err == -EEXIST ? bpf_map_lookup_elem(map, &key) : 0;
			if (!c) {
				cpu->full_gen = gen;
				stat_inc(cpu, NETRING_DROP_STAT_MAP_FULL);
				goto event;
			}
		}
		if (c) {
			__sync_fetch_and_add(&c->packets, weight);
			__sync_fetch_and_add(&c->bytes, (__u64)l3_len * weight);
			c->last_ns = now;
			c->ifindex = ifindex;
			if (weight > 1 && !c->estimated)
				c->estimated = 1;
		} else {
			stat_inc(cpu, NETRING_DROP_STAT_MAP_FULL);
		}
	}

event:
	if (!rate_allows(cpu)) {
		stat_inc(cpu, NETRING_DROP_STAT_SUPPRESSED);
		return 0;
	}
	{
		struct netring_drop_event *e = bpf_ringbuf_reserve(&drop_events, sizeof(*e), 0);
		if (!e) {
			stat_inc(cpu, NETRING_DROP_STAT_EVENT_LOST);
			return 0;
		}
		__builtin_memcpy(&e->flow, &key.flow, sizeof(e->flow));
		e->ts_ns = bpf_ktime_get_ns();
		e->location = location;
		e->reason = reason;
		e->ifindex = ifindex;
		e->bytes = l3_len;
		e->reserved = 0;
		bpf_ringbuf_submit(e, 0);
		stat_inc(cpu, NETRING_DROP_STAT_EVENTS);
	}
	return 0;
}

/* The CPU's entry, or 0 when the arguments (skb, location, reason) say
 * this is not a drop. */
static __always_inline struct netring_drop_cpu *drop_cpu_of(__u32 reason)
{
	__u32 zero = 0;
	struct netring_drop_cpu *cpu = bpf_map_lookup_elem(&drop_cpu, &zero);

	if (!cpu)
		return 0; /* never: index 0 of a one-entry array */
	stat_inc(cpu, NETRING_DROP_STAT_SEEN);
	if (reason == reason_not_dropped || reason == reason_consumed) {
		stat_inc(cpu, NETRING_DROP_STAT_NOT_DROP);
		return 0;
	}
	return cpu;
}

static __always_inline int count_ignored(struct netring_drop_cpu *cpu)
{
	stat_inc(cpu, NETRING_DROP_STAT_IGNORED);
	return 0;
}

SEC("tp_btf/kfree_skb")
int netring_kfree_skb_btf(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	__u32 reason = (__u32)ctx[2];
	struct netring_drop_cpu *cpu = drop_cpu_of(reason);
	struct skb_fields f = {};
	struct net_device *dev;

	if (!cpu)
		return 0;
	if (skb) {
		dev = skb->dev;
		f.ifindex = dev ? dev->ifindex : 0;
		if (ignored_ifindex(f.ifindex) && dev->nd_net.net->ns.inum == ignore_netns)
			return count_ignored(cpu);
		f.head = skb->head;
		f.data = skb->data;
		f.len = skb->len;
		f.protocol = skb->protocol;
		f.network_header = skb->network_header;
	}
	return count_drop(cpu, &f, reason, ctx[1]);
}

SEC("raw_tp/kfree_skb")
int netring_kfree_skb(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
	__u32 reason = (__u32)ctx->args[2];
	struct netring_drop_cpu *cpu = drop_cpu_of(reason);
	struct skb_fields f = {};
	struct net_device *dev;

	if (!cpu)
		return 0;
	if (skb) {
		dev = BPF_CORE_READ(skb, dev);
		f.ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0;
		if (ignored_ifindex(f.ifindex) && BPF_CORE_READ(dev, nd_net.net, ns.inum) == ignore_netns)
			return count_ignored(cpu);
		f.head = BPF_CORE_READ(skb, head);
		f.data = BPF_CORE_READ(skb, data);
		f.len = BPF_CORE_READ(skb, len);
		f.protocol = BPF_CORE_READ(skb, protocol);
		f.network_header = BPF_CORE_READ(skb, network_header);
	}
	return count_drop(cpu, &f, reason, ctx->args[1]);
}
