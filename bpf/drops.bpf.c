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
 * into drop_reasons (exact even when the map is full), and, at most
 * events_per_sec per CPU, its details into the ring buffer.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/kernel_types.h"
#include "bpf/kevents.h"

char LICENSE[] SEC("license") = "GPL";

/* Set before load. */
volatile const __u32 reason_not_dropped = 0;    /* SKB_NOT_DROPPED_YET */
volatile const __u32 reason_consumed = ~0U;     /* SKB_CONSUMED, ~0: the kernel has none */
volatile const __u32 events_per_sec = 100;      /* per CPU; 0: no details */
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

/* Drops by reason since load: cumulative, never drained. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_DROP_REASON_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} drop_reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_DROP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drop_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} drop_events SEC(".maps");

/* The rate limit's window, per CPU: no atomics, no shared cache line. */
struct rate_window {
	__u64 start_ns;
	__u64 sent;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate_window);
} drop_rate SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&drop_stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline void set_v4(__u8 *dst, __u32 be_addr)
{
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &be_addr, 4);
}

/* Ports (or ICMP type/code) of the L4 header at l4. */
static __always_inline void read_ports(struct netring_flow_key *k, const unsigned char *l4)
{
	__u16 ports[2] = {};

	switch (k->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
		if (bpf_probe_read_kernel(ports, sizeof(ports), l4) == 0) {
			k->src_port = bpf_ntohs(ports[0]);
			k->dst_port = bpf_ntohs(ports[1]);
		}
		break;
	case IPPROTO_ICMP:
	case 58: /* IPPROTO_ICMPV6 */
		if (bpf_probe_read_kernel(ports, 2, l4) == 0) {
			const __u8 *tc = (const __u8 *)ports;
			k->dst_port = (__u16)tc[0] << 8 | tc[1];
		}
		break;
	}
}

/* The flow key and L3 length of the dropped skb, read from its network
 * header. 0 when it has none we can read (ARP, netlink, an skb dropped
 * before its headers were set). Fragments after the first and IPv6
 * extension headers keep ports 0: the key then names the hosts and the
 * protocol only. */
static __always_inline int parse_skb(struct sk_buff *skb, struct netring_flow_key *k, __u32 *l3_len)
{
	__u16 proto = BPF_CORE_READ(skb, protocol);
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned char *data = BPF_CORE_READ(skb, data);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u32 len = BPF_CORE_READ(skb, len);
	unsigned char *l3;

	if (!head || (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6)))
		return 0;
	l3 = head + nh;
	/* skb->len counts from skb->data, which may sit before the network
	 * header (L2 on transmit) or after it (pulled, at the socket). */
	*l3_len = (__u32)((long)len + (long)(data - l3));

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), l3) != 0 || ip.version != 4 || ip.ihl < 5)
			return 0;
		k->family = 4;
		k->protocol = ip.protocol;
		set_v4(k->src, ip.saddr);
		set_v4(k->dst, ip.daddr);
		if ((ip.frag_off & bpf_htons(0x1fff)) == 0)
			read_ports(k, l3 + ip.ihl * 4);
		return 1;
	}
	{
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), l3) != 0 || ip6.version != 6)
			return 0;
		k->family = 6;
		k->protocol = ip6.nexthdr;
		__builtin_memcpy(k->src, &ip6.saddr, 16);
		__builtin_memcpy(k->dst, &ip6.daddr, 16);
		read_ports(k, l3 + sizeof(ip6));
		return 1;
	}
}

static __always_inline int ignored(struct net_device *dev, __u32 ifindex)
{
	int i;

	if (ignore_netns == 0)
		return 0;
	for (i = 0; i < NETRING_DROP_IGNORE_MAX; i++) {
		if (ignore_ifindex[i] == ifindex)
			return BPF_CORE_READ(dev, nd_net.net, ns.inum) == ignore_netns;
	}
	return 0;
}

static __always_inline int rate_allows(__u64 now)
{
	__u32 zero = 0;
	struct rate_window *w;

	if (events_per_sec == 0)
		return 0;
	w = bpf_map_lookup_elem(&drop_rate, &zero);
	if (!w)
		return 0;
	if (now - w->start_ns >= 1000000000ULL) {
		w->start_ns = now;
		w->sent = 0;
	}
	if (w->sent >= events_per_sec)
		return 0;
	w->sent += 1;
	return 1;
}

SEC("raw_tp/kfree_skb")
int netring_kfree_skb(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
	__u64 location = ctx->args[1];
	__u32 reason = (__u32)ctx->args[2];
	struct netring_drop_key key = {};
	struct netring_drop_counts *c;
	__u32 zero = 0, slot, ifindex = 0, l3_len = 0;
	__u64 *total, now;
	void *map;

	stat_inc(NETRING_DROP_STAT_SEEN);
	if (reason == reason_not_dropped || reason == reason_consumed) {
		stat_inc(NETRING_DROP_STAT_NOT_DROP);
		return 0;
	}
	if (skb) {
		struct net_device *dev = BPF_CORE_READ(skb, dev);
		if (dev) {
			ifindex = BPF_CORE_READ(dev, ifindex);
			if (ifindex && ignored(dev, ifindex)) {
				stat_inc(NETRING_DROP_STAT_IGNORED);
				return 0;
			}
		}
	}
	stat_inc(NETRING_DROP_STAT_COUNTED);
	slot = reason < NETRING_DROP_REASON_SLOTS ? reason : NETRING_DROP_REASON_SLOTS - 1;
	total = bpf_map_lookup_elem(&drop_reasons, &slot);
	if (total)
		*total += 1;

	if (!skb || !parse_skb(skb, &key.flow, &l3_len)) {
		__builtin_memset(&key.flow, 0, sizeof(key.flow));
		l3_len = 0;
		stat_inc(NETRING_DROP_STAT_UNPARSED);
	}
	key.reason = reason;
	now = bpf_ktime_get_ns();

	map = bpf_map_lookup_elem(&drop_maps, &zero);
	if (!map) {
		stat_inc(NETRING_DROP_STAT_NO_MAP);
	} else {
		c = bpf_map_lookup_elem(map, &key);
		if (!c) {
			struct netring_drop_counts init = { .first_ns = now };
			/* BPF_NOEXIST: a CPU racing us to the first insert wins,
			 * we add to its entry below. */
			if (bpf_map_update_elem(map, &key, &init, BPF_NOEXIST) != 0 &&
			    bpf_map_lookup_elem(map, &key) == 0) {
				stat_inc(NETRING_DROP_STAT_MAP_FULL);
				goto event;
			}
			c = bpf_map_lookup_elem(map, &key);
		}
		if (c) {
			__sync_fetch_and_add(&c->packets, 1);
			__sync_fetch_and_add(&c->bytes, l3_len);
			c->last_ns = now;
			c->ifindex = ifindex;
		} else {
			stat_inc(NETRING_DROP_STAT_MAP_FULL);
		}
	}

event:
	if (!rate_allows(now)) {
		stat_inc(NETRING_DROP_STAT_SUPPRESSED);
		return 0;
	}
	{
		struct netring_drop_event *e = bpf_ringbuf_reserve(&drop_events, sizeof(*e), 0);
		if (!e) {
			stat_inc(NETRING_DROP_STAT_EVENT_LOST);
			return 0;
		}
		__builtin_memcpy(&e->flow, &key.flow, sizeof(e->flow));
		e->ts_ns = now;
		e->location = location;
		e->reason = reason;
		e->ifindex = ifindex;
		e->bytes = l3_len;
		e->reserved = 0;
		bpf_ringbuf_submit(e, 0);
		stat_inc(NETRING_DROP_STAT_EVENTS);
	}
	return 0;
}
