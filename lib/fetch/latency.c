// SPDX-License-Identifier: MIT
/* A log-linear latency histogram: 8 buckets per power of two, lock-free to add to. */
#include "fetch.h"

#include <stdlib.h>
#include <string.h>

#define SUB 8
#define NBUCKETS (64 * SUB)

struct rwp_latency_hist {
	_Atomic uint64_t b[NBUCKETS];
	_Atomic uint64_t sum, max;
};

struct rwp_latency_hist *rwp_latency_new(void)
{
	return calloc(1, sizeof(struct rwp_latency_hist));
}

static unsigned int bucket(uint64_t ns)
{
	unsigned int msb;

	if (ns < SUB)
		return ns;
	msb = 63 - __builtin_clzll(ns);
	return (msb - 2) * SUB + ((ns >> (msb - 3)) & (SUB - 1));
}

/* the middle of a bucket's range */
static uint64_t bucket_value(unsigned int b)
{
	unsigned int msb;
	uint64_t lo, width;

	if (b < SUB)
		return b;
	msb = b / SUB + 2;
	width = 1ULL << (msb - 3);
	lo = (1ULL << msb) + (b % SUB) * width;
	return lo + width / 2;
}

void rwp_latency_add(struct rwp_latency_hist *h, uint64_t ns)
{
	uint64_t m;

	if (!h)
		return;
	atomic_fetch_add_explicit(&h->b[bucket(ns)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, ns, memory_order_relaxed);
	m = atomic_load_explicit(&h->max, memory_order_relaxed);
	while (ns > m && !atomic_compare_exchange_weak(&h->max, &m, ns))
		;
}

void rwp_latency_get(const struct rwp_latency_hist *h, struct rwp_latency *out)
{
	uint64_t counts[NBUCKETS], n = 0, acc = 0;
	uint64_t *targets[3] = { &out->p50_ns, &out->p90_ns, &out->p99_ns };
	const double q[3] = { 0.50, 0.90, 0.99 };
	unsigned int k = 0;

	memset(out, 0, sizeof(*out));
	if (!h)
		return;
	for (unsigned int i = 0; i < NBUCKETS; i++)
		n += counts[i] = atomic_load_explicit(&h->b[i], memory_order_relaxed);
	if (!n)
		return;
	for (unsigned int i = 0; i < NBUCKETS && k < 3; i++) {
		acc += counts[i];
		while (k < 3 && acc >= q[k] * n)
			*targets[k++] = bucket_value(i);
	}
	out->count = n;
	out->max_ns = atomic_load(&h->max);
	out->mean_ns = atomic_load(&h->sum) / n;
}
