// SPDX-License-Identifier: MIT
/*
 * Per-page idle ages: one byte per page, bits 0-6 the age in intervals (saturating at
 * RWP_AGE_MAX), bit 7 "written in the last interval" (or, for backends whose fault thread
 * records accesses, "touched in the running interval" until the tick folds it in).
 * A histogram of ages per region answers working-set queries in O(1).
 */
#include "../internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint8_t *bytes(const struct rwp_region *r)
{
	return (uint8_t *)r->ages;
}

static inline uint64_t *words(const struct rwp_region *r)
{
	return (uint64_t *)r->ages;
}

static inline size_t nr_words(const struct rwp_region *r)
{
	return (r->nr_pages + 7) / 8;
}

int rwp_ages_init(struct rwp_region *r)
{
	/* padding bytes of the last word stay 0 and are never counted */
	r->ages = calloc(nr_words(r), 8);
	if (!r->ages)
		return -ENOMEM;
	memset(r->hist, 0, sizeof(r->hist));
	r->hist[0] = r->nr_pages;
	return 0;
}

void rwp_ages_free(struct rwp_region *r)
{
	free((void *)r->ages);
	r->ages = NULL;
}

/* Eight ages one interval older at once; the written bits clear. */
static inline uint64_t step_word(uint64_t w)
{
	uint64_t a = (w & ~HIGHS) + ONES; /* 127 + 1 sets bit 7 and nothing else */

	return a - ((a & HIGHS) >> 7);	  /* ... which undoes the saturated ones */
}

/* Every page one interval older; the histogram shifts with them. */
void rwp_ages_step(struct rwp_region *r)
{
	uint64_t *w = words(r);
	size_t n = nr_words(r);

	for (size_t i = 0; i < n; i++)
		w[i] = step_word(w[i]);
	/* the padding of the last word aged too: keep it at 0 */
	if (r->nr_pages % 8)
		w[n - 1] &= (1ULL << (8 * (r->nr_pages % 8))) - 1;
	r->hist[RWP_AGE_MAX] += r->hist[RWP_AGE_MAX - 1];
	memmove(&r->hist[1], &r->hist[0], (RWP_AGE_MAX - 1) * sizeof(r->hist[0]));
	r->hist[0] = 0;
	r->hot_last = 0;
}

void rwp_ages_mark_hot(struct rwp_region *r, uint64_t first, uint64_t n, bool written)
{
	uint8_t *a = bytes(r);
	uint8_t v = written ? AGE_WRITTEN : 0;

	if (first >= r->nr_pages)
		return;
	if (n > r->nr_pages - first)
		n = r->nr_pages - first;
	for (uint64_t i = first; i < first + n; i++) {
		uint8_t old = a[i] & AGE_MASK;

		if (old) {
			r->hist[old]--;
			r->hist[0]++;
			r->hot_last++;
		}
		a[i] = (a[i] & AGE_WRITTEN) | v;
	}
}

/* Fault thread: page pg was touched in the running interval (folded by the next tick). */
void rwp_ages_touch(struct rwp_region *r, uint64_t pg, bool written)
{
	(void)written; /* a MINOR fault's write flag says nothing of later writes */
	__atomic_fetch_or(&words(r)[pg / 8], (uint64_t)AGE_WRITTEN << (8 * (pg % 8)),
			  __ATOMIC_RELAXED);
}

/*
 * End an interval whose accesses the fault thread recorded: touched pages become age 0,
 * the others one interval older. Atomic per word, because the fault thread keeps
 * touching pages of the next interval meanwhile. Rebuilds the histogram.
 */
void rwp_ages_fold_touched(struct rwp_region *r)
{
	uint64_t *w = words(r);
	size_t n = nr_words(r);
	/* the padding of the last word must stay 0, masked in the CAS: touches race it */
	uint64_t pad = r->nr_pages % 8 ? (1ULL << (8 * (r->nr_pages % 8))) - 1 : ~0ULL;

	memset(r->hist, 0, sizeof(r->hist));
	r->hot_last = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t old = __atomic_load_n(&w[i], __ATOMIC_RELAXED), new;

		do {
			uint64_t touched = (old & HIGHS) >> 7; /* 1 in each touched byte */
			uint64_t keep = ~(touched * 0xff);     /* 0x00 in touched bytes */

			new = step_word(old & ~HIGHS) & keep & (i == n - 1 ? pad : ~0ULL);
		} while (!__atomic_compare_exchange_n(&w[i], &old, new, false, __ATOMIC_RELAXED,
						      __ATOMIC_RELAXED));
		for (size_t b = 0; b < 8 && i * 8 + b < r->nr_pages; b++) {
			uint8_t age = (new >> (8 * b)) & AGE_MASK;

			r->hist[age]++;
			r->hot_last += !age;
		}
	}
}

static uint8_t age_at(const struct rwp_region *r, uint64_t pg)
{
	return __atomic_load_n(&bytes(r)[pg], __ATOMIC_RELAXED);
}

RWP_EXPORT int64_t rwp_region_hot_bitmap(const struct rwp_region *r, uint64_t *bits,
					 size_t nbits)
{
	int64_t hot = 0;

	if (!r || !bits || nbits < r->nr_pages)
		return -EINVAL;
	memset(bits, 0, (nbits + 63) / 64 * 8);
	for (uint64_t pg = 0; pg < r->nr_pages; pg++) {
		if (!(age_at(r, pg) & AGE_MASK)) {
			bits[pg / 64] |= 1ULL << (pg % 64);
			hot++;
		}
	}
	return hot;
}

RWP_EXPORT int64_t rwp_region_dirty_bitmap(const struct rwp_region *r, uint64_t *bits,
					   size_t nbits)
{
	int64_t n = 0;

	if (!r || !bits || nbits < r->nr_pages)
		return -EINVAL;
	if (!(r->sees & RWP_SEES_DIRTY))
		return -EOPNOTSUPP;
	memset(bits, 0, (nbits + 63) / 64 * 8);
	for (uint64_t pg = 0; pg < r->nr_pages; pg++) {
		if (age_at(r, pg) & AGE_WRITTEN) {
			bits[pg / 64] |= 1ULL << (pg % 64);
			n++;
		}
	}
	return n;
}

RWP_EXPORT size_t rwp_region_hot_ranges(const struct rwp_region *r, uint64_t *cursor,
					struct rwp_range *v, size_t n)
{
	size_t filled = 0;
	uint64_t pg;

	if (!r || !cursor || !v)
		return 0;
	pg = *cursor;
	while (filled < n && pg < r->nr_pages) {
		if (age_at(r, pg) & AGE_MASK) {
			pg++;
			continue;
		}
		uint64_t first = pg;

		while (pg < r->nr_pages && !(age_at(r, pg) & AGE_MASK))
			pg++;
		v[filled].first = first;
		v[filled].count = pg - first;
		filled++;
	}
	*cursor = pg;
	return filled;
}

RWP_EXPORT int rwp_region_ages(const struct rwp_region *r, uint64_t first, size_t n,
			       uint8_t *ages)
{
	if (!r || !ages || first > r->nr_pages || n > r->nr_pages - first)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		ages[i] = age_at(r, first + i) & AGE_MASK;
	return 0;
}

/* track_lock held */
uint64_t rwp_ages_wss(const struct rwp_region *r, unsigned int window)
{
	uint64_t n = 0;

	for (unsigned int a = 0; a < window; a++)
		n += r->hist[a];
	return n;
}

/* Histogram readers take track_lock: a tick rewrites it. */
RWP_EXPORT int64_t rwp_region_wss(const struct rwp_region *r, unsigned int window)
{
	int64_t n;

	if (!r || window < 1 || window > RWP_AGE_MAX)
		return -EINVAL;
	pthread_mutex_lock(&r->ctx->track_lock);
	n = rwp_ages_wss(r, window);
	pthread_mutex_unlock(&r->ctx->track_lock);
	return n;
}

RWP_EXPORT int rwp_region_age_histogram(const struct rwp_region *r,
					uint64_t hist[RWP_AGE_MAX + 1])
{
	if (!r || !hist)
		return -EINVAL;
	pthread_mutex_lock(&r->ctx->track_lock);
	memcpy(hist, r->hist, sizeof(r->hist));
	pthread_mutex_unlock(&r->ctx->track_lock);
	return 0;
}
