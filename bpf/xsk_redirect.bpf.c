// XDP program that hands each packet to the AF_XDP socket bound on the
// queue it arrived on.
//
// The XSKMAP is indexed by rx_queue_index; user space puts one socket fd
// per queue there. A queue without a socket gets `miss_action` (the low bits
// of bpf_redirect_map's flags are its return value when the lookup fails):
// XDP_PASS by default, so an unwatched queue's traffic goes on to the stack;
// the agent's mirror interface uses XDP_DROP, since its packets are copies.
// "xdp.frags" marks the program multi-buffer aware so that it also attaches
// where the MTU needs more than one page per packet (veth above ~3.5 KB).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NETRING_XSK_MAX_QUEUES 256

struct xsk_counters {
	__u64 redirected;
	__u64 missed;
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

SEC("xdp.frags")
int xsk_redirect(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	struct xsk_counters *c = bpf_map_lookup_elem(&counters, &queue);
	long ret = bpf_redirect_map(&xsks, queue, miss_action);

	if (c) {
		if (ret == XDP_REDIRECT)
			c->redirected++;
		else
			c->missed++;
	}
	return ret;
}

char LICENSE[] SEC("license") = "GPL";
