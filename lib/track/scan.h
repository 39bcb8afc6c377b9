/* SPDX-License-Identifier: MIT */
/*
 * A tick runs in three phases, each timed for rwp_track_timing(): PAGEMAP_SCAN into a run
 * list, bookkeeping (ages, histogram), then protecting or zapping again where pages were
 * accessed.
 */
#ifndef RWP_SCAN_H
#define RWP_SCAN_H

#include "../internal.h"

#include <time.h>

/* Runs of pages a scan matched, in address order; grows as needed, reused across ticks. */
struct rwp_runs {
	struct page_region *v;
	size_t n, cap;
};

void rwp_runs_free(struct rwp_runs *runs);

/* Append what PAGEMAP_SCAN matches in req to runs (emptied first). */
int rwp_pagemap_scan(struct rwp_ctx *ctx, const struct rwp_scan_req *req,
		     struct rwp_runs *runs);

/*
 * Call act over the runs, merged while the gap between them is at most merge_gap bytes:
 * one syscall over a few already-clean pages is cheaper than two syscalls.
 */
int rwp_runs_act(struct rwp_region *r, const struct rwp_runs *runs, size_t merge_gap,
		 int (*act)(struct rwp_region *r, uintptr_t start, uintptr_t end));

static inline uint64_t rwp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

#endif
