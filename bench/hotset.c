// SPDX-License-Identifier: MIT
/* Hot sets: which pages an interval touches, chosen reproducibly, and the touching loop. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>

/* keeps the compiler from dropping the reads of the touching loop */
volatile uint64_t hotset_sink;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

bool hotset_writes(uint64_t pg)
{
	return mix(pg) % 3 == 0;
}

/*
 * Selection sampling (Knuth's algorithm S): exactly n of N slots, each equally likely,
 * produced in ascending order in one pass.
 */
static size_t pick(uint64_t *out, size_t n, size_t nslots, size_t cluster, uint64_t *seed)
{
	size_t got = 0;

	for (size_t s = 0; s < nslots && got < n; s++) {
		if (test_rand(seed) % (nslots - s) < n - got) {
			for (size_t i = 0; i < cluster; i++)
				out[got * cluster + i] = s * cluster + i;
			got++;
		}
	}
	return got * cluster;
}

int hotset_make(struct hotset *h, size_t nr_pages, double frac, size_t cluster, uint64_t seed)
{
	size_t want = (size_t)(frac * nr_pages + 0.5), nslots;

	if (cluster < 1 || cluster > nr_pages)
		cluster = 1;
	nslots = nr_pages / cluster;
	want = want / cluster ? want / cluster : 1;
	if (want > nslots)
		want = nslots;
	h->frac = frac;
	h->cluster = cluster;
	h->pages = malloc(want * cluster * sizeof(*h->pages));
	if (!h->pages)
		return -ENOMEM;
	h->n = pick(h->pages, want, nslots, cluster, &seed);
	h->nr_written = 0;
	for (size_t i = 0; i < h->n; i++)
		h->nr_written += hotset_writes(h->pages[i]);
	return 0;
}

void hotset_free(struct hotset *h)
{
	free(h->pages);
	h->pages = NULL;
	h->n = 0;
}

uint64_t hotset_touch(const struct guestmem *g, const struct hotset *h)
{
	uint64_t sum = 0, t0 = now_ns(), t;

	for (size_t i = 0; i < h->n; i++) {
		uint64_t pg = h->pages[i];
		/* somewhere inside the page, not only its first word */
		volatile uint64_t *p = (volatile uint64_t *)(g->base + pg * g->page_size +
							     (pg * 64 % g->page_size));

		if (hotset_writes(pg))
			*p = pg;
		else
			sum += *p;
	}
	t = now_ns() - t0;
	hotset_sink += sum;
	return t;
}

uint64_t *hotset_bitmap(const struct hotset *h, size_t nr_pages, bool written_only)
{
	uint64_t *bits = calloc((nr_pages + 63) / 64, sizeof(*bits));

	if (!bits)
		return NULL;
	for (size_t i = 0; i < h->n; i++) {
		uint64_t pg = h->pages[i];

		if (!written_only || hotset_writes(pg))
			bits[pg / 64] |= 1ULL << (pg % 64);
	}
	return bits;
}
