// SPDX-License-Identifier: GPL-2.0
/* The mirror program: TC egress on the mirror link's near end (nr-mirror0).
 *
 * Every skb here is a clone the sampler made, so it is ours to change:
 * truncate it to the snap length first (one frame per sample instead of the
 * ~45 segments veth would make of a GSO clone on the far end, and the
 * header is then pushed onto a small skb) unless the reader truncates (see
 * socket_truncates), then prepend the sample header
 * (sample_meta.h). Anything without the sampler's mark tag is dropped and
 * counted: the mirror carries samples only. On the AF_XDP rung a GSO clone
 * goes on whole, past the far end's XDP program, to a TPACKET_V3 socket
 * there (see gso_ingress_ifindex).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/sample_meta.h"

/* Bytes of the original frame to keep; 0 keeps it whole. Set before load. */
volatile const __u32 snap_len = 128;
/* Queues of the mirror link (one per capture worker). Set before load. */
volatile const __u32 mirror_queues = 1;

/* Non-zero when the far end's reader keeps only the header and snap_len
 * bytes itself: TPACKET_V3, whose socket filter returns that length, so
 * tpacket_rcv copies just those bytes out of the skb. A GSO clone then goes
 * on whole and is only marked truncated (single frames: see the trim below). Truncating here is the costly part
 * of a sample: bpf_skb_change_tail() first makes the *whole* skb linear and
 * writable (net/core/filter.c), a copy of every byte of a 64 KB GSO clone.
 * AF_XDP cannot avoid it: veth copies a non-linear skb whole before its XDP
 * program runs, and XDP on the far end takes GSO off the near end, so an
 * untruncated GSO clone would be segmented and copied segment by segment.
 * In .bss, written by user space at run time (the rung can change after
 * load). */
volatile __u32 socket_truncates;

/* The AF_XDP rung's way around that copy: non-zero, the far end's ifindex,
 * where a GSO clone is redirected into the receive path (BPF_F_INGRESS)
 * instead of being transmitted across the pair. That path never meets
 * veth's XDP program (it runs only on what the near end transmits) nor
 * generic XDP (not attached), so the clone stays whole and GSO, and the
 * TPACKET_V3 socket on the far end copies the header and snap_len bytes
 * of it, as on the TPACKET rung. Single frames still cross the pair,
 * trimmed here (at most one MTU copied), to the AF_XDP sockets. The
 * sampler numbers the two kinds apart (NETRING_SET_F_GSO_APART): each
 * socket sees gapless sequences. In .bss, written by user space once the
 * far end's socket is open. */
volatile __u32 gso_ingress_ifindex;

/* The sampler's config map (user space passes the same map): the rate,
 * when the clone carries none in skb->cb (see sample_meta.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct netring_if_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_MST__MAX);
	__type(key, __u32);
	__type(value, __u64);
} mirror_stats SEC(".maps");

/* The verifier of Debian 12's kernel (6.1) rejects, without CAP_PERFMON, a
 * narrow store into an 8-byte stack slot that already holds a narrow spilled
 * scalar ("attempt to corrupt spilled pointer on stack"); 6.18 accepts it.
 * So the sample header, all narrow fields, is assembled here rather than on
 * the stack, and map keys on the stack are 8-byte variables (a 4-byte key is
 * their low half), each filling a slot of its own. One entry per CPU: a TC
 * program runs to its end on the CPU it started on. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netring_sample_hdr);
} mirror_hdr SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 key = idx;
	__u64 *v = bpf_map_lookup_elem(&mirror_stats, &key);

	if (v)
		*v += 1;
}

SEC("tc")
int mirror_egress(struct __sk_buff *skb)
{
	static const __u8 dst_mac[6] = NETRING_SAMPLE_DST_MAC;
	static const __u8 src_mac[6] = NETRING_SAMPLE_SRC_MAC;
	struct netring_sample_hdr *hdr;
	struct netring_if_config *cfg;
	__u32 mark = skb->mark, ifindex, orig_len = skb->len, cpu = bpf_get_smp_processor_id(), queue;
	int gso_apart;
	__u64 zero = 0, key;

	if ((mark >> NETRING_MARK_TAG_SHIFT) != NETRING_MARK_TAG) {
		stat_inc(NETRING_MST_FOREIGN);
		return TC_ACT_SHOT;
	}
	ifindex = mark & NETRING_MARK_IFINDEX_MASK;

	hdr = bpf_map_lookup_elem(&mirror_hdr, &zero);
	if (!hdr)
		return TC_ACT_SHOT;  /* never: index 0 of a one-entry array */
	__builtin_memset(hdr, 0, sizeof(*hdr));
	__builtin_memcpy(hdr->eth_dst, dst_mac, sizeof(dst_mac));
	__builtin_memcpy(hdr->eth_src, src_mac, sizeof(src_mac));
	hdr->eth_proto = bpf_htons(NETRING_SAMPLE_ETH_P);
	hdr->magic = NETRING_SAMPLE_MAGIC;
	hdr->version = NETRING_SAMPLE_VERSION;
	hdr->hdr_len = sizeof(*hdr);
	hdr->direction = (mark & NETRING_MARK_DIR_BIT) ? NETRING_DIR_EGRESS : NETRING_DIR_INGRESS;
	hdr->ifindex = ifindex;
	if (skb->cb[0] == NETRING_CB_MAGIC) {
		hdr->rate = skb->cb[1];
		queue = skb->cb[2] & NETRING_CB_QUEUE_MASK;
		hdr->flags |= (skb->cb[2] >> NETRING_CB_FLAGS_SHIFT) & (NETRING_SAMPLE_F_COUNTED | NETRING_SAMPLE_F_FORCED);
	} else {
		key = ifindex;
		cfg = bpf_map_lookup_elem(&config, &key);
		hdr->rate = cfg ? cfg->rate : 0;
		queue = cpu;
	}
	if (mirror_queues > 1)
		queue %= mirror_queues;
	else
		queue = 0;
	hdr->orig_len = orig_len;
	/* Same CPU as the sampler: the clone reached this hook synchronously
	 * through dev_queue_xmit (see sample_meta.h). */
	hdr->cpu = cpu;
	hdr->queue = queue;
	hdr->seq = skb->priority;
	hdr->gso_segs = skb->gso_segs ? skb->gso_segs : 1;
	hdr->snap_len = snap_len;
	if (skb->vlan_present) {
		hdr->flags |= NETRING_SAMPLE_F_VLAN;
		hdr->vlan_tci = skb->vlan_tci;
		hdr->vlan_proto = bpf_ntohs(skb->vlan_proto);
	}
	hdr->tstamp_ns = bpf_ktime_get_ns();

	gso_apart = gso_ingress_ifindex != 0 && skb->gso_size != 0;
	if (snap_len && orig_len > snap_len) {
		/* Left whole only if GSO: a GSO skb crosses the mirror at any
		 * size, a single frame may not (a 9000-byte pod frame plus our
		 * header exceeds the mirror's MTU), and trimming one copies at
		 * most one MTU. */
		if (!(skb->gso_size != 0 && (socket_truncates || gso_apart)) && bpf_skb_change_tail(skb, snap_len, 0)) {
			stat_inc(NETRING_MST_TRIM_ERRORS);
			return TC_ACT_SHOT;
		}
		hdr->flags |= NETRING_SAMPLE_F_TRUNCATED;
	}
	if (bpf_skb_change_head(skb, sizeof(*hdr), 0) ||
	    bpf_skb_store_bytes(skb, 0, hdr, sizeof(*hdr), 0)) {
		stat_inc(NETRING_MST_HEAD_ERRORS);
		return TC_ACT_SHOT;
	}
	/* The clone must not look like the original to anything downstream. */
	skb->mark = 0;
	skb->priority = 0;
	skb->cb[0] = 0;
	/* The flow's queue (its worker), chosen by the sampler. The clone has
	 * no socket and veth no XPS by default, so netdev_pick_tx falls to
	 * skb_tx_hash, which takes a recorded queue (queue_mapping - 1) as is.
	 * veth delivers on the peer's RX queue of the same index; a CPU's
	 * samples for one queue stay in sequence order there. */
	stat_inc(NETRING_MST_PASSES);
	if (gso_apart) {
		stat_inc(NETRING_MST_GSO_APART);
		/* The socket's fanout reads the queue from the header. */
		return bpf_redirect(gso_ingress_ifindex, BPF_F_INGRESS);
	}
	if (mirror_queues > 1)
		skb->queue_mapping = queue + 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
