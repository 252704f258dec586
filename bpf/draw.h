/* Per-CPU pseudo-random draws for sampling decisions.
 *
 * bpf_get_prandom_u32() is a helper call per draw, and on a host with
 * return-thunk mitigations a call costs more than the arithmetic; the
 * programs that draw per packet (the sampler) or per drop (the drop tracer
 * in a storm) keep an xorshift64* state in a per-CPU value of theirs
 * instead, seeded from the helper on first use. Sampling needs uniformity,
 * not secrecy.
 */
#ifndef NETRING_BPF_DRAW_H
#define NETRING_BPF_DRAW_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* A uniform 32-bit draw; *state is per CPU (0: not seeded yet). */
static __always_inline __u32 netring_draw(__u64 *state)
{
	__u64 x = *state;

	if (x == 0)
		x = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32() | 1;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (__u32)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* A draw in [0, n): scaled by a multiply, not a division (the bias, n / 2^32,
 * is nothing). */
static __always_inline __u32 netring_draw_below(__u64 *state, __u32 n)
{
	return (__u32)(((__u64)netring_draw(state) * n) >> 32);
}

#endif /* NETRING_BPF_DRAW_H */
