/* SPDX-License-Identifier: MIT */
/* Fetch internals: the fault thread's MISSING service and bulk installs. */
#ifndef RWP_FETCH_INTERNAL_H
#define RWP_FETCH_INTERNAL_H

#include "../internal.h"
#include "../tier/tier.h"

#define PREFETCH_MAX 16

/* Buffers owned by the fault thread. */
struct rwp_fetcher {
	uint8_t *page;	  /* one page of the biggest size (2 MiB) */
	uint8_t *nbr;	  /* PREFETCH_MAX 4 KiB pages for neighbours */
	void *zero;	  /* a zero huge page for hugetlbfs, which has no UFFDIO_ZEROPAGE */
	/* the page just fetched, whose neighbours rwp_fetch_prefetch() brings along */
	struct rwp_region *around;
	uint64_t around_pg;
};

void rwp_fetch_defaults(struct rwp_fetch_opts *o);
int rwp_fetcher_init(struct rwp_fetcher *f);
void rwp_fetcher_destroy(struct rwp_fetcher *f);

/*
 * Serve a MISSING fault on page pg of r. Returns 0 (resolved and woken), -EBUSY (the page
 * is moving: hold the fault), -EAGAIN (an event is pending: retry after draining), -EIO
 * (its tier cannot read it now: retry later), or another -errno.
 */
int rwp_fetch_missing(struct rwp_ctx *ctx, struct rwp_fetcher *f, struct rwp_region *r,
		      uint64_t pg);

/* Install the evicted neighbours of the last page fetched (regions_lock held). */
void rwp_fetch_prefetch(struct rwp_ctx *ctx, struct rwp_fetcher *f);

/* Give up on a page that cannot be read back: accesses get SIGBUS, never wrong data. */
int rwp_fetch_poison(struct rwp_ctx *ctx, struct rwp_region *r, uint64_t pg);

/* The tier a STORED state points into. */
struct rwp_tier *rwp_tier_of(struct rwp_ctx *ctx, struct rwp_region *r, ps_t s);

/*
 * Install the non-resident pages among [first, first + n) of r without waking anyone,
 * then wake the range once. Used by replay and drain. Returns pages installed or -errno.
 */
int64_t rwp_install_range(struct rwp_ctx *ctx, struct rwp_region *r, uint64_t first,
			  uint64_t n, uint8_t *buf, size_t buf_len);

/* refault.c: fetches per second over the last minute */
void rwp_refault_note(struct rwp_ctx *ctx);
uint64_t rwp_refaults_last_minute(struct rwp_ctx *ctx);

/* record.c */
void rwp_record_note(struct rwp_ctx *ctx, struct rwp_region *r, uint64_t pg);
void rwp_recorder_free(struct rwp_ctx *ctx);

/* latency.c */
struct rwp_latency_hist *rwp_latency_new(void);
void rwp_latency_add(struct rwp_latency_hist *h, uint64_t ns);
void rwp_latency_get(const struct rwp_latency_hist *h, struct rwp_latency *out);

#endif
