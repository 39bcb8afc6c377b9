/* SPDX-License-Identifier: MIT */
/*
 * rwp eviction: choose cold pages by policy and move them to the tier chain, race-free.
 *
 * Only pages of regions registered with RWP_REGION_EVICTABLE are evicted. A guest access
 * racing an eviction is never lost: it waits for that page only, and then fetches it back.
 * Pages are captured, per region, by the safest means its memory and backend allow:
 *   shmem:             splice the page into a pipe, punch it, read the pipe (no freeze)
 *   hugetlbfs, stock:  MINOR registration holds every access while the page is copied
 *   hugetlbfs, native: sync RWP mode (UFFDIO_SET_MODE) holds accesses to protected pages
 *   anon:              UFFDIO_MOVE the page out (only the process owning the memory)
 * Pages that cannot be stored stay resident.
 */
#ifndef RWP_EVICT_H
#define RWP_EVICT_H

#include <rwp/track.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RWP_POLICY_WRITE_TRACKED (1u << 0) /* also evict regions whose reads are unseen */

struct rwp_policy {
	size_t sz;
	unsigned int min_idle;	    /* evict pages idle at least this many intervals (>= 1) */
	uint64_t target_resident;   /* bytes: evict oldest first down to this; 0 = no target */
	uint64_t max_evict;	    /* 4 KiB pages per pass (a huge page is 512); 0 = unlimited */
	/*
	 * Refault budget, Google far-memory style: fetches per minute as a fraction of the
	 * working set (e.g. 0.002 = 0.2%). Above it the policy waits longer before evicting
	 * (min_idle rises, then falls back slowly). 0 = no budget.
	 */
	double max_refault_rate;
	unsigned int flags;	    /* RWP_POLICY_* */
};

struct rwp_evict_result {
	uint64_t candidates;	/* cold resident pages considered */
	uint64_t evicted;	/* pages moved to a tier */
	uint64_t zero;		/* of those, zero pages (no storage) */
	uint64_t kept;		/* candidates left resident: touched meanwhile, or a tier refused */
	uint64_t demoted;	/* pages moved down the chain */
	uint64_t failed;	/* tier errors (the pages stayed resident) */
	unsigned int min_idle;	/* the idle threshold this pass used */
	uint64_t ns;		/* time the pass took */
};

/*
 * One eviction pass now, over every evictable region, using the ages of the last tick.
 * Errors: -ENODEV (no tier attached), -EINVAL.
 */
int rwp_evict(struct rwp_ctx *ctx, const struct rwp_policy *p, struct rwp_evict_result *res);

/* Evict exactly the pages [first, first + n) of r now (tests, "evict now" commands). */
int rwp_evict_range(struct rwp_region *r, uint64_t first, uint64_t n,
		    struct rwp_evict_result *res);

/* Fetch every evicted page of the context back. Returns pages fetched or -errno. */
int64_t rwp_drain(struct rwp_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
