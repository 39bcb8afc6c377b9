/* SPDX-License-Identifier: MIT */
/*
 * Eviction internals. A pass claims batches of cold pages (RESIDENT -> BUSY), captures
 * them with the region's capture method, stores them down the tier chain, drops them
 * from the guest's memory, and releases them (BUSY -> STORED/ZERO, or back to RESIDENT
 * when no tier took them). A guest access meanwhile is held by the fault thread.
 */
#ifndef RWP_EVICT_INTERNAL_H
#define RWP_EVICT_INTERNAL_H

#include "../internal.h"
#include "../tier/tier.h"
#include "staging.h"

#define BATCH_BYTES (1u << 20) /* 256 pages of 4 KiB: a default pipe's worth */

/* The batch in flight; its pages and data also live in the staging area. */
struct rwp_batch {
	struct rwp_region *r;
	size_t n;
	uint64_t pg[BATCH_BYTES / PAGE_4K];
	uint8_t *buf;			     /* n pages: the staging data, page aligned */
	int result[BATCH_BYTES / PAGE_4K];   /* capture: 0, or why the page stays */
	ps_t to[BATCH_BYTES / PAGE_4K];	     /* state on release */
};

/*
 * How a region's pages leave it. capture(): on return every captured page's data is in
 * b->buf and no guest access to it can proceed unseen (it faults and is held). A page it
 * cannot capture gets a non-zero result and is released RESIDENT untouched.
 * drop(): the stored pages leave the guest's memory (nothing if capture took them).
 * restore(): put page i back, for a capture that took it but whose storing failed.
 */
struct rwp_capture_ops {
	const char *name;
	int (*capture)(struct rwp_evictor *e, struct rwp_batch *b);
	int (*drop)(struct rwp_evictor *e, struct rwp_batch *b);
	int (*restore)(struct rwp_evictor *e, struct rwp_batch *b, size_t i);
	bool needs_freeze; /* native sync mode during the pass */
};

extern const struct rwp_capture_ops rwp_capture_splice;
extern const struct rwp_capture_ops rwp_capture_hold;
extern const struct rwp_capture_ops rwp_capture_move;

struct rwp_evictor {
	struct rwp_ctx *ctx;
	struct rwp_batch batch;
	int pipe[2];		/* splice capture (the context's kept pipe, or our own) */
	bool own_pipe;
	size_t pipe_pages;
	int stage_fd;		/* the staging area */
	struct stage_hdr *stage;
	uint8_t *scratch;	/* move capture: anon area registered on the uffd */
	size_t scratch_len;
	bool frozen;
};

/* The batch's staging entry i moves to status st (written before the step it names). */
static inline void rwp_stage_set(struct rwp_evictor *e, size_t i, enum stage_status st)
{
	__atomic_store_n(&e->stage->status[i], st, __ATOMIC_RELEASE);
}

/* Pick a region's capture method, or say why it cannot be evicted. */
int rwp_capture_choose(struct rwp_region *r, char *why, size_t n);

/* Punch [first, first + n) pages of r out of its backing file. */
int rwp_punch(struct rwp_region *r, uint64_t first, uint64_t n);

/* Move the next page in the splice pipe to staging position i. */
int rwp_pipe_drain_page(struct rwp_evictor *e, size_t i, size_t page_size);

/*
 * rwp_batch_runs() step: punch a run out of the file; a page that stays (the punch
 * failed) gets the error as its result, and its stored copy is dropped by the caller.
 */
int rwp_batch_punch_run(struct rwp_batch *b, size_t from, size_t to, void *arg);

/* Call fn on the runs of consecutive pages of b whose result is 0. */
int rwp_batch_runs(struct rwp_batch *b, bool (*want)(struct rwp_batch *b, size_t i),
		   int (*fn)(struct rwp_batch *b, size_t from, size_t to, void *arg), void *arg);

int rwp_evict_region_setup(struct rwp_region *r);
void rwp_evict_region_teardown(struct rwp_region *r);

int rwp_evictor_get(struct rwp_ctx *ctx, struct rwp_evictor **out);
void rwp_evictor_free(struct rwp_evictor *e);

/* policy.c: the idle threshold a pass uses, after the refault budget's say */
unsigned int rwp_policy_min_idle(struct rwp_ctx *ctx, const struct rwp_policy *p);

/* demote.c: move aged pages down the chain */
void rwp_demote(struct rwp_evictor *e, struct rwp_evict_result *res);

/* Claim page pg (in state s) for the batch at its next position; false if it moved. */
bool rwp_batch_claim(struct rwp_evictor *e, struct rwp_region *r, uint64_t pg, ps_t s);

/* Store, drop and release one claimed batch. */
void rwp_batch_commit(struct rwp_evictor *e, struct rwp_batch *b, struct rwp_evict_result *res);

/* Store the captured pages of a batch down the chain (used by recovery too). */
void rwp_batch_store(struct rwp_evictor *e, struct rwp_batch *b);

static inline size_t rwp_batch_max(const struct rwp_region *r)
{
	return BATCH_BYTES / r->page_size ?: 1;
}

#endif
