/* Header parsing for the sampler: the flow key of a packet.
 *
 * Reads only: a TC program that never writes packet data gets no unclone
 * prologue from the verifier, so the observed packet is left exactly as it
 * came.
 *
 * Two paths, as in pkg/flow/parser.cpp. The fast path reads the common
 * shapes (untagged Ethernet, IPv4 without options or fragmentation or IPv6
 * without extension headers, then TCP or UDP, not a tunnel port) in place,
 * at constant offsets from skb->data. Everything else takes the general
 * path, which copies each header out with bpf_skb_load_bytes at a computed
 * offset: it reads paged data too, and it never adds a variable to a packet
 * pointer, which the verifier refuses without CAP_PERFMON (Spectre v1
 * sanitation has no limit for packet pointers). The fast path never decides
 * an error; when it is unsure the general path starts over.
 *
 * It must give the key pkg/flow/parser.cpp gives the same frame, because a
 * flow's exact kernel counts and its samples meet in one record by key.
 * Where that parser would need more than this one (IPv4/IPv6 fragments,
 * IPv6 extension headers), this parser declines instead of guessing: the
 * packet is then not counted in the kernel and stays with the estimator (it
 * is sampled with p = min(1, segs / N)). What the user-space parser rejects
 * (a bad version, a TCP data offset below 5, a UDP length below 8, too many
 * VLAN tags, a VXLAN header without its I flag, a packet shorter than its
 * headers, ...) is rejected here too, so no flow the user-space side cannot
 * name is counted. tests/netns/sampler_prog_test.cpp runs both over the
 * parser corpus, on each path.
 */
#ifndef NETRING_BPF_FLOW_PARSE_H
#define NETRING_BPF_FLOW_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/flow_key.h"

enum netring_parse_result {
	NETRING_PARSE_OK = 0,
	NETRING_PARSE_NOT_IP,    /* ARP, LLDP, ...: no flow */
	NETRING_PARSE_MALFORMED, /* what the user-space parser rejects too */
	NETRING_PARSE_DECLINED,  /* fragments, extension headers: left to the estimator */
};

struct netring_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Where the general path's bpf_skb_load_bytes() copies a header to: in the
 * parse result, which callers keep in a map value, never on the stack. The
 * helper writes its destination a byte at a time as far as the verifier is
 * concerned, and 6.1's verifier, without CAP_PERFMON, rejects a write
 * narrower than 8 bytes into a stack slot that holds a spilled register
 * ("attempt to corrupt spilled pointer on stack"); which slots the
 * compiler reuses for spills is not ours to choose, and a change elsewhere
 * in the program moved one under a header buffer. */
union netring_hdr_buf {
	struct ethhdr eth;
	struct netring_vlan_hdr vlan;
	struct iphdr ip;
	struct ipv6hdr ip6;
	struct udphdr udp;
	__u8 tcp[14];     /* through the flags byte */
	__u8 tunnel[8];   /* VXLAN / Geneve base header */
	__u8 icmp[4];
	__be16 sctp[6];   /* ports, verification tag, checksum */
};

struct netring_parsed {
	struct netring_flow_key key;
	__u32 ip_len;  /* L3 bytes of the packet the key describes */
	__u32 hdr_len; /* frame bytes before the innermost L4 payload: what each segment repeats */
	__u32 tcp_flags;
	__u32 outer_port_flags; /* tunnel_ports flags of the outer UDP destination port */
	__u8 outer_protocol;    /* IP protocol of the outermost IP header (4/41: IP-in-IP) */
	/* Not part of the result: the parse's copy of the header it reads.
	 * netring_parsed_clear() leaves it alone. */
	union netring_hdr_buf hdr;
};

/* Zeroes the result, not the header buffer after it. */
static __always_inline void netring_parsed_clear(struct netring_parsed *out)
{
	__builtin_memset(out, 0, __builtin_offsetof(struct netring_parsed, hdr));
}

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define NETRING_ETH_P_QINQ1 0x9100
#define NETRING_ETH_P_TEB 0x6558 /* Geneve: Ethernet inside */

/* Every header this parser reads lies within this many bytes of the frame
 * start (outer Ethernet + 2 tags + IPv4 with options + UDP + Geneve with
 * options + inner Ethernet + 2 tags + IPv6 + TCP is 432). */
#define NETRING_PARSE_MAX_OFF 512

/* Copies `len` bytes at frame offset `off`; MALFORMED when the packet is
 * shorter (the user-space parser calls that truncated). */
static __always_inline int netring_load(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	if (off >= NETRING_PARSE_MAX_OFF || bpf_skb_load_bytes(skb, off, to, len))
		return NETRING_PARSE_MALFORMED;
	return NETRING_PARSE_OK;
}

static __always_inline int netring_is_vlan(__be16 p)
{
	return p == bpf_htons(ETH_P_8021Q) || p == bpf_htons(ETH_P_8021AD) || p == bpf_htons(NETRING_ETH_P_QINQ1);
}

/* Ethernet and up to two VLAN tags at *off; the EtherType after them. */
static __always_inline int netring_parse_eth(struct __sk_buff *skb, __u32 *off, __be16 *proto,
					      struct netring_parsed *out)
{
	struct ethhdr *eth = &out->hdr.eth;
	struct netring_vlan_hdr *v = &out->hdr.vlan;
	__be16 p;

	if (netring_load(skb, *off, eth, sizeof(*eth)))
		return NETRING_PARSE_MALFORMED;
	p = eth->h_proto;
	*off += sizeof(*eth);
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (!netring_is_vlan(p))
			break;
		if (netring_load(skb, *off, v, sizeof(*v)))
			return NETRING_PARSE_MALFORMED;
		p = v->proto;
		*off += sizeof(*v);
	}
	if (netring_is_vlan(p))
		return NETRING_PARSE_MALFORMED; /* a third tag: too many */
	*proto = p;
	return NETRING_PARSE_OK;
}

static __always_inline void netring_v4_mapped(__u8 *dst, __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

/* The L4 header at frame offset l4 of an IP packet that ends at l3_end (the
 * IP length, not the frame's, ends the packet). */
static __always_inline int netring_parse_l4(struct __sk_buff *skb, __u32 l4, __u32 l3_end, struct netring_parsed *out)
{
	switch (out->key.protocol) {
	case IPPROTO_TCP: {
		__u8 *th = out->hdr.tcp;
		__u32 doff;

		if (l4 + 14 > l3_end || netring_load(skb, l4, th, sizeof(out->hdr.tcp)))
			return NETRING_PARSE_MALFORMED;
		doff = th[12] >> 4;
		if (doff < 5)
			return NETRING_PARSE_MALFORMED;
		out->key.src_port = (__u16)th[0] << 8 | th[1];
		out->key.dst_port = (__u16)th[2] << 8 | th[3];
		out->tcp_flags = th[13];
		out->hdr_len = l4 + doff * 4;
		return NETRING_PARSE_OK;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = &out->hdr.udp;

		if (l4 + 8 > l3_end || netring_load(skb, l4, uh, sizeof(*uh)) || bpf_ntohs(uh->len) < 8)
			return NETRING_PARSE_MALFORMED;
		out->key.src_port = bpf_ntohs(uh->source);
		out->key.dst_port = bpf_ntohs(uh->dest);
		out->hdr_len = l4 + 8;
		return NETRING_PARSE_OK;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 *t = out->hdr.icmp;

		if (l4 + 4 > l3_end || netring_load(skb, l4, t, sizeof(out->hdr.icmp)))
			return NETRING_PARSE_MALFORMED;
		out->key.dst_port = (__u16)t[0] << 8 | t[1];
		out->hdr_len = l4;
		return NETRING_PARSE_OK;
	}
	case IPPROTO_SCTP: {
		__be16 *ports = out->hdr.sctp;

		if (l4 + 12 > l3_end || netring_load(skb, l4, ports, sizeof(out->hdr.sctp)))
			return NETRING_PARSE_MALFORMED;
		out->key.src_port = bpf_ntohs(ports[0]);
		out->key.dst_port = bpf_ntohs(ports[1]);
		out->hdr_len = l4;
		return NETRING_PARSE_OK;
	}
	default:
		out->hdr_len = l4; /* ESP, GRE, IPIP, ...: a flow by addresses and protocol */
		return NETRING_PARSE_OK;
	}
}

static __always_inline int netring_ipv6_ext(__u8 nh)
{
	switch (nh) {
	case 0:   /* hop-by-hop */
	case 43:  /* routing */
	case 44:  /* fragment */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return 1;
	}
	return 0;
}

/* An IP header at frame offset *off (EtherType `proto`) of a packet that
 * ends at `limit`: fills family, addresses, protocol and ip_len, advances
 * *off to the L4 header and sets *l3_end to where the IP packet ends. */
static __always_inline int netring_parse_ip(struct __sk_buff *skb, __u32 *off, __be16 proto, __u32 limit,
					     struct netring_parsed *out, __u32 *l3_end)
{
	__u32 l3 = *off;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = &out->hdr.ip;
		__u32 ihl, tot;

		if (netring_load(skb, l3, ip, sizeof(*ip)))
			return NETRING_PARSE_MALFORMED;
		if (ip->version != 4)
			return NETRING_PARSE_MALFORMED;
		ihl = ip->ihl * 4;
		if (ihl < 20 || l3 + ihl > limit)
			return NETRING_PARSE_MALFORMED;
		tot = bpf_ntohs(ip->tot_len);
		/* 0 is what TSO and BIG TCP super-packets carry: the skb's length. */
		if (tot != 0 && tot < ihl)
			return NETRING_PARSE_MALFORMED;
		if (ip->frag_off & bpf_htons(0x3fff))
			return NETRING_PARSE_DECLINED; /* later fragments need the user-space cache */
		out->key.family = 4;
		out->key.protocol = ip->protocol;
		netring_v4_mapped(out->key.src, ip->saddr);
		netring_v4_mapped(out->key.dst, ip->daddr);
		out->ip_len = tot != 0 ? tot : limit - l3;
		*l3_end = tot != 0 ? l3 + tot : limit;
		*off = l3 + ihl;
		return NETRING_PARSE_OK;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = &out->hdr.ip6;
		__u32 payload;

		if (netring_load(skb, l3, ip6, sizeof(*ip6)))
			return NETRING_PARSE_MALFORMED;
		if (ip6->version != 6)
			return NETRING_PARSE_MALFORMED;
		if (netring_ipv6_ext(ip6->nexthdr))
			return NETRING_PARSE_DECLINED;
		payload = bpf_ntohs(ip6->payload_len);
		out->key.family = 6;
		out->key.protocol = ip6->nexthdr;
		__builtin_memcpy(out->key.src, &ip6->saddr, 16);
		__builtin_memcpy(out->key.dst, &ip6->daddr, 16);
		out->ip_len = payload != 0 ? payload + 40 : limit - l3;
		*l3_end = payload != 0 ? l3 + 40 + payload : limit;
		*off = l3 + sizeof(*ip6);
		return NETRING_PARSE_OK;
	}
	return NETRING_PARSE_NOT_IP;
}

/* VXLAN or Geneve at frame offset `off` (after the outer UDP header of a
 * datagram ending at udp_end, within an IP packet ending at l3_end): the
 * inner flow replaces the outer one in `out`. */
static __always_inline int netring_parse_tunnel(struct __sk_buff *skb, __u32 off, __u32 udp_end, __u32 l3_end,
						 struct netring_parsed *out)
{
	__u32 cap = udp_end < l3_end ? udp_end : l3_end;
	__u32 vni, inner, outer_flags = out->outer_port_flags, inner_end = 0;
	__u8 outer_protocol = out->outer_protocol;
	int geneve = !(outer_flags & NETRING_PORT_VXLAN);
	__be16 inner_type = 0;
	__u8 *t = out->hdr.tunnel;
	int r;

	if (off + 8 > cap || netring_load(skb, off, t, sizeof(out->hdr.tunnel)))
		return NETRING_PARSE_MALFORMED; /* truncated tunnel header */
	vni = ((__u32)t[4] << 16) | ((__u32)t[5] << 8) | t[6];
	if (!geneve) {
		if (!(t[0] & 0x08))
			return NETRING_PARSE_MALFORMED; /* I flag: the VNI is valid (RFC 7348) */
		inner = off + 8;
	} else {
		__u16 gproto = (__u16)t[2] << 8 | t[3];

		if (t[0] >> 6)
			return NETRING_PARSE_MALFORMED; /* Geneve version */
		inner = off + 8 + (t[0] & 0x3f) * 4;
		if (inner > cap)
			return NETRING_PARSE_MALFORMED;
		if (gproto == ETH_P_IP || gproto == ETH_P_IPV6)
			inner_type = bpf_htons(gproto);
		else if (gproto != NETRING_ETH_P_TEB)
			return NETRING_PARSE_MALFORMED;
	}
	netring_parsed_clear(out);
	out->outer_port_flags = outer_flags;
	out->outer_protocol = outer_protocol;
	out->key.vni = vni;
	out->key.tunnel = geneve ? NETRING_TUNNEL_GENEVE : NETRING_TUNNEL_VXLAN;
	if (inner_type == 0) {
		r = netring_parse_eth(skb, &inner, &inner_type, out);
		if (r)
			return r;
	}
	/* The inner packet ends where the datagram does, at the latest. */
	r = netring_parse_ip(skb, &inner, inner_type, cap, out, &inner_end);
	if (r)
		return r == NETRING_PARSE_NOT_IP ? NETRING_PARSE_MALFORMED : r;
	if (inner_end > cap)
		inner_end = cap;
	return netring_parse_l4(skb, inner, inner_end, out);
}

/* The general path: any shape this parser knows, header by header. */
static __always_inline int netring_parse_general(struct __sk_buff *skb, void *tunnel_ports, struct netring_parsed *out)
{
	__u32 off = 0, l3_end = 0, len = skb->len;
	__u64 port; /* 8 bytes wide: see the scratch map in sampler.bpf.c */
	__u8 *flags;
	__be16 proto;
	int r;

	netring_parsed_clear(out);
	r = netring_parse_eth(skb, &off, &proto, out);
	if (r)
		return r;
	r = netring_parse_ip(skb, &off, proto, len, out, &l3_end);
	if (r)
		return r;
	out->outer_protocol = out->key.protocol;
	if (l3_end > len)
		l3_end = len;
	r = netring_parse_l4(skb, off, l3_end, out);
	if (r || out->key.protocol != IPPROTO_UDP)
		return r;

	port = out->key.dst_port;
	flags = bpf_map_lookup_elem(tunnel_ports, &port);
	if (!flags || !*flags)
		return NETRING_PARSE_OK;
	out->outer_port_flags = *flags;
	if (!(*flags & (NETRING_PORT_VXLAN | NETRING_PORT_GENEVE)))
		return NETRING_PARSE_OK;
	if (netring_load(skb, off, &out->hdr.udp, sizeof(out->hdr.udp)))
		return NETRING_PARSE_MALFORMED;
	return netring_parse_tunnel(skb, off + 8, off + bpf_ntohs(out->hdr.udp.len), l3_end, out);
}

/* The fast path: 1 when it settled the packet (key in `out`), 0 when the
 * general path must look. Constant offsets only. */
static __always_inline int netring_parse_fast(struct __sk_buff *skb, void *tunnel_ports, struct netring_parsed *out)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 l4, l3_end, len = skb->len;
	__u8 *l4p;

	if ((void *)(eth + 1) > end)
		return 0;
	netring_parsed_clear(out);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 tot;

		if ((void *)(ip + 1) > end)
			return 0;
		/* Version 4, IHL 5, not a fragment, a total length of 0 (TSO) or at
		 * least the header. */
		if (*(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(0x3fff)))
			return 0;
		tot = bpf_ntohs(ip->tot_len);
		if (tot != 0 && tot < 20)
			return 0;
		out->key.family = 4;
		out->key.protocol = ip->protocol;
		netring_v4_mapped(out->key.src, ip->saddr);
		netring_v4_mapped(out->key.dst, ip->daddr);
		out->ip_len = tot != 0 ? tot : len - ETH_HLEN;
		l3_end = tot != 0 ? ETH_HLEN + tot : len;
		l4 = ETH_HLEN + 20;
		l4p = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__u32 payload;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return 0;
		if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP)
			return 0;
		payload = bpf_ntohs(ip6->payload_len);
		out->key.family = 6;
		out->key.protocol = ip6->nexthdr;
		__builtin_memcpy(out->key.src, &ip6->saddr, 16);
		__builtin_memcpy(out->key.dst, &ip6->daddr, 16);
		out->ip_len = payload != 0 ? payload + 40 : len - ETH_HLEN;
		l3_end = payload != 0 ? ETH_HLEN + 40 + payload : len;
		l4 = ETH_HLEN + 40;
		l4p = (void *)(ip6 + 1);
	} else {
		return 0;
	}
	if (l3_end > len)
		return 0;
	out->outer_protocol = out->key.protocol;
	if (out->key.protocol == IPPROTO_TCP) {
		struct tcphdr *th = (void *)l4p;

		if ((void *)(th + 1) > end || l4 + 14 > l3_end || th->doff < 5)
			return 0;
		out->key.src_port = bpf_ntohs(th->source);
		out->key.dst_port = bpf_ntohs(th->dest);
		out->tcp_flags = ((__u8 *)th)[13];
		out->hdr_len = l4 + th->doff * 4;
		return 1;
	}
	if (out->key.protocol == IPPROTO_UDP) {
		struct udphdr *uh = (void *)l4p;
		__u64 port; /* 8 bytes wide: see the scratch map in sampler.bpf.c */
		__u8 *flags;

		if ((void *)(uh + 1) > end || l4 + 8 > l3_end || bpf_ntohs(uh->len) < 8)
			return 0;
		out->key.src_port = bpf_ntohs(uh->source);
		out->key.dst_port = bpf_ntohs(uh->dest);
		out->hdr_len = l4 + 8;
		port = out->key.dst_port;
		flags = bpf_map_lookup_elem(tunnel_ports, &port);
		if (flags && *flags)
			return 0; /* an encapsulation: the general path has the tunnel rules */
		return 1;
	}
	return 0;
}

/* netring_handshake_slot_of's fold of an IPv6 address (four words). */
static __always_inline __u32 netring_fold_v6(const __u32 *w)
{
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

/* ... and of a key's address (16 bytes, IPv4-mapped for family 4). */
static __always_inline __u32 netring_fold_key_addr(const __u8 *addr, __u8 family)
{
	const __u32 *w = (const __u32 *)addr;

	return family == 4 ? w[3] : netring_fold_v6(w);
}

/* The transport of a packet of the fast path's shapes, without a key: what
 * the sampler needs to tell that a packet is not one it always copies, for
 * every packet, where building the key (a 64-byte record) is wasted on the
 * ones it then does not copy. */
struct netring_l4_peek {
	__u32 src_fold; /* the source address for netring_handshake_slot_of (sample_meta.h) */
	__u16 src_port; /* host order */
	__u16 dst_port;
	__u8 protocol;
	__u8 tcp_flags;
};

/* 1 when `out` holds the packet's transport: untagged Ethernet, IPv4
 * without options or fragmentation or IPv6 without extension headers, then
 * TCP, or UDP to a port that is not a tunnel's. 0 for anything else (the
 * full parse decides). Reads the bytes the fast path reads, at the same
 * offsets: where the full parse succeeds it finds the same values. */
static __always_inline int netring_peek_l4(struct __sk_buff *skb, void *tunnel_ports, struct netring_l4_peek *out)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u8 *l4p;
	__u8 proto;

	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || *(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(0x3fff)))
			return 0;
		proto = ip->protocol;
		out->src_fold = ip->saddr;
		l4p = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return 0;
		proto = ip6->nexthdr;
		out->src_fold = netring_fold_v6(ip6->saddr.in6_u.u6_addr32);
		l4p = (void *)(ip6 + 1);
	} else {
		return 0;
	}
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)l4p;

		if ((void *)(th + 1) > end)
			return 0;
		out->src_port = bpf_ntohs(th->source);
		out->dst_port = bpf_ntohs(th->dest);
		out->tcp_flags = ((__u8 *)th)[13];
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = (void *)l4p;
		__u64 port; /* 8 bytes wide: see the scratch map in sampler.bpf.c */
		__u8 *flags;

		if ((void *)(uh + 1) > end)
			return 0;
		out->src_port = bpf_ntohs(uh->source);
		out->dst_port = bpf_ntohs(uh->dest);
		out->tcp_flags = 0;
		port = out->dst_port;
		flags = bpf_map_lookup_elem(tunnel_ports, &port);
		if (flags && *flags)
			return 0;
	} else {
		return 0;
	}
	out->protocol = proto;
	return 1;
}

/* The flow key of the frame at skb->data. `tunnel_ports` maps a UDP
 * destination port (host order, __u32 key) to NETRING_PORT_* flags.
 * `fast`: 0 sends every packet down the general path (tests). */
static __always_inline int netring_parse(struct __sk_buff *skb, void *tunnel_ports, struct netring_parsed *out,
					  int fast)
{
	if (fast && netring_parse_fast(skb, tunnel_ports, out))
		return NETRING_PARSE_OK;
	return netring_parse_general(skb, tunnel_ports, out);
}

/* Which mirror queue (capture worker) a flow's samples go to; user space
 * computes the same for the exact counts (see flow_key.h). */
static __always_inline __u32 netring_flow_key_hash(const struct netring_flow_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = NETRING_FNV_OFFSET;

#pragma unroll
	for (int i = 0; i < 12; i++) {
		h ^= w[i];
		h *= NETRING_FNV_PRIME;
	}
	return h ^ (h >> 16);
}

#endif /* NETRING_BPF_FLOW_PARSE_H */
