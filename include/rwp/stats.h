/* SPDX-License-Identifier: MIT */
/* rwp statistics: where the guest's pages are, what faulting costs, what prefetch earns. */
#ifndef RWP_STATS_H
#define RWP_STATS_H

#include <rwp/tier.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rwp_latency {
	uint64_t count;
	uint64_t p50_ns, p90_ns, p99_ns, max_ns, mean_ns;
};

struct rwp_tier_stats {
	char name[16];
	uint64_t pages;		/* pages held */
	uint64_t bytes;		/* their uncompressed size */
	uint64_t used_bytes;	/* memory or storage actually used */
	uint64_t stores, loads, errors;
};

struct rwp_stats {
	uint64_t guest_bytes;	  /* registered memory */
	uint64_t resident_bytes;  /* guest_bytes minus evicted pages */
	uint64_t evicted_pages;	  /* 4 KiB pages in a tier or known zero (a huge page is 512) */
	uint64_t zero_pages;	  /* of those, zero pages: no storage */
	int64_t saved_bytes;	  /* evicted bytes minus the RAM the tiers use for them */
	unsigned int nr_tiers;
	struct rwp_tier_stats tier[RWP_TIERS_MAX];

	uint64_t faults_missing, faults_minor, faults_rwp, faults_held;
	uint64_t fetched;	  /* pages brought back on a fault, from a tier or image */
	uint64_t fetched_zero;	  /* ... of which zero pages */
	uint64_t prefetched, prefetch_hits, prefetch_waste;
	uint64_t evicted_total, evict_failures;
	uint64_t fetch_errors, poisoned;
	double refault_rate;	  /* fetches in the last minute / working set */
	struct rwp_latency fault_latency; /* message read to fault resolved */
};

int rwp_stats(struct rwp_ctx *ctx, struct rwp_stats *out);

#ifdef __cplusplus
}
#endif
#endif
