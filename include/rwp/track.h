/* SPDX-License-Identifier: MIT */
/*
 * rwp tracking: detection intervals and their results.
 *
 * rwp_track_start() arms every region of a context; each rwp_track_tick() ends the running
 * interval (collecting what was accessed) and starts the next. Results are per region and
 * per page (4 KiB, or 2 MiB on hugetlbfs): the hot set of the last interval, each page's
 * idle age in intervals, and working-set sizes over windows of intervals.
 *
 * Tracking keeps one byte per guest page: a 7-bit idle age and a written bit.
 */
#ifndef RWP_TRACK_H
#define RWP_TRACK_H

#include <rwp/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Idle ages saturate here: "not accessed for RWP_AGE_MAX intervals or more". */
#define RWP_AGE_MAX 127

/* A run of pages of one region: [first, first + count). */
struct rwp_range {
	uint64_t first;
	uint64_t count;
};

/*
 * Begin the first interval on every region (a region registered later is armed as it
 * registers). Errors: -EALREADY if tracking already runs, or a backend's -errno.
 */
int rwp_track_start(struct rwp_ctx *ctx);

/*
 * End the running interval on every region, update ages and working sets, and begin the
 * next interval. Returns the number of pages accessed in the interval that ended.
 */
int64_t rwp_track_tick(struct rwp_ctx *ctx);

/* Intervals completed so far. */
uint64_t rwp_track_intervals(const struct rwp_ctx *ctx);

/* Where tick time goes, summed over every tick and region of a context. */
struct rwp_track_timing {
	uint64_t ticks;
	uint64_t pages;		 /* region pages covered, summed over ticks */
	uint64_t hot_pages;	 /* accessed pages found, summed over ticks */
	uint64_t scan_ns;	 /* PAGEMAP_SCAN ioctls */
	uint64_t bookkeeping_ns; /* ages, histograms, run lists */
	uint64_t protect_ns;	 /* re-protecting or zapping for the next interval */
};

int rwp_track_timing(struct rwp_ctx *ctx, struct rwp_track_timing *out);

/*
 * Hot set of the last completed interval as a bitmap: bit i (of word i / 64) is set if page
 * i was accessed. nbits must be >= the region's page count. Returns the number of hot pages.
 */
int64_t rwp_region_hot_bitmap(const struct rwp_region *r, uint64_t *bits, size_t nbits);

/*
 * Hot set of the last completed interval as page ranges, starting the search at page
 * *cursor: fills up to n ranges, advances *cursor past the last one returned, and
 * returns how many were filled (0 when there are no more).
 */
size_t rwp_region_hot_ranges(const struct rwp_region *r, uint64_t *cursor,
			     struct rwp_range *v, size_t n);

/*
 * Pages written in the last completed interval, for backends with RWP_SEES_DIRTY.
 * Errors: -EOPNOTSUPP when the backend cannot tell writes apart.
 */
int64_t rwp_region_dirty_bitmap(const struct rwp_region *r, uint64_t *bits, size_t nbits);

/* Idle ages (0 = accessed in the last interval) of pages [first, first + n). */
int rwp_region_ages(const struct rwp_region *r, uint64_t first, size_t n, uint8_t *ages);

/*
 * Working-set size: pages accessed within the last `window` intervals (1..RWP_AGE_MAX).
 * Returns the page count or -EINVAL.
 */
int64_t rwp_region_wss(const struct rwp_region *r, unsigned int window);

/* The same summed over the context's regions, in bytes. */
int64_t rwp_ctx_wss_bytes(struct rwp_ctx *ctx, unsigned int window);

/* Pages per idle age (hist[a] = pages of age a), RWP_AGE_MAX + 1 entries. */
int rwp_region_age_histogram(const struct rwp_region *r, uint64_t hist[RWP_AGE_MAX + 1]);

#ifdef __cplusplus
}
#endif
#endif
