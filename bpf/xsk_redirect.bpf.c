// XDP program that hands each packet to the AF_XDP socket bound on the
// queue it arrived on.
//
// The XSKMAP is indexed by rx_queue_index; user space puts one socket fd
// per queue there. A queue without a socket gets `miss_action` (the low bits
// of bpf_redirect_map's flags are its return value when the lookup fails):
// XDP_PASS by default, so an unwatched queue's traffic goes on to the stack;
// the agent's mirror interface and capture ports use XDP_DROP, since their
// packets are copies. On a capture port the program also counts every frame
// and samples (see count_frames).
// "xdp.frags" marks the program multi-buffer aware so that it also attaches
// where the MTU needs more than one page per packet (veth above ~3.5 KB).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NETRING_XSK_MAX_QUEUES 256

struct xsk_counters {
	__u64 redirected;
	__u64 missed;
	/* capture ports only (count_frames): every frame the port received,
	 * and those left out by sampling */
	__u64 packets;
	__u64 bytes;
	__u64 skipped;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, NETRING_XSK_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETRING_XSK_MAX_QUEUES);
	__type(key, __u32);
	__type(value, struct xsk_counters);
} counters SEC(".maps");

volatile const __u32 miss_action = XDP_PASS;
/* A capture port (SPAN/TAP) carries copies only: every frame is counted
 * exactly here, and 1 in sample_rate of them goes to the sockets; the
 * others are dropped. Off (0 / 1) on the agent's mirror, whose frames are
 * samples already; the verifier prunes what a constant turns off. */
volatile const __u32 count_frames = 0;
volatile const __u32 sample_rate = 1;

SEC("xdp.frags")
int xsk_redirect(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	/* Queues past the map share its last slot for counting (none exist
	 * on the interfaces seen so far; the XSKMAP misses them anyway). */
	__u32 slot = queue < NETRING_XSK_MAX_QUEUES ? queue : NETRING_XSK_MAX_QUEUES - 1;
	struct xsk_counters *c = bpf_map_lookup_elem(&counters, &slot);
	long ret;

	if (count_frames && c) {
		c->packets++;
		c->bytes += bpf_xdp_get_buff_len(ctx);
	}
	if (sample_rate > 1 && bpf_get_prandom_u32() % sample_rate != 0) {
		if (c)
			c->skipped++;
		return XDP_DROP;
	}
	ret = bpf_redirect_map(&xsks, queue, miss_action);
	if (c) {
		if (ret == XDP_REDIRECT)
			c->redirected++;
		else
			c->missed++;
	}
	return ret;
}

char LICENSE[] SEC("license") = "GPL";
