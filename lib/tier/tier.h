/* SPDX-License-Identifier: MIT */
/* The storage tier interface every backend (zram, file, nbd, image) implements. */
#ifndef RWP_TIER_INTERNAL_H
#define RWP_TIER_INTERNAL_H

#include "../internal.h"
#include "pagestate.h"

/* One page of a store batch. */
struct rwp_store {
	const void *data;
	uint32_t slot;	/* out */
	int result;	/* out: 0 stored, -E2BIG compresses badly (try the next tier),
			 * -ENOSPC full, -EIO ... */
};

struct rwp_tier_ops {
	const char *name;
	bool in_ram; /* what it holds costs host memory */
	/*
	 * Store n pages of page_size bytes. `last`: no tier follows, so a tier that would
	 * pass a page down (-E2BIG) must take it. Returns 0 after filling every result.
	 */
	int (*store)(struct rwp_tier *t, struct rwp_store *v, size_t n, size_t page_size,
		     bool last);
	int (*load)(struct rwp_tier *t, uint32_t slot, void *page, size_t page_size);
	/* optional: n pages in consecutive slots, stored contiguously, in one read */
	int (*load_seq)(struct rwp_tier *t, uint32_t slot, uint32_t n, void *buf,
			size_t page_size);
	void (*drop)(struct rwp_tier *t, uint32_t slot, size_t page_size);
	uint64_t (*used_bytes)(struct rwp_tier *t);
	void (*destroy)(struct rwp_tier *t);
	/* optional: set up storage once the tier is in a context's chain */
	int (*bind)(struct rwp_tier *t, struct rwp_ctx *ctx);
	/*
	 * optional, after a restart: every slot a page map refers to is marked, then done()
	 * frees what nothing refers to (a store the dead owner never recorded) and returns
	 * how many it freed.
	 */
	void (*recover_mark)(struct rwp_tier *t, uint32_t slot, size_t page_size);
	uint64_t (*recover_done)(struct rwp_tier *t);
};

/*
 * The evictor stores (one at a time: it runs under the context's track_lock) while the
 * fault thread, a replay or a drain load and drop: each tier locks what it shares, and
 * no more, so a fault never waits for a batch being compressed or written.
 */
struct rwp_tier {
	const struct rwp_tier_ops *ops;
	char name[16];
	unsigned int index;
	unsigned int demote_age;
	bool attached;
	_Atomic uint64_t pages, bytes, stores, loads, errors;
	/* failure injection */
	pthread_mutex_t inject_lock;
	int inject_err;
	unsigned int inject_count;
	bool inject_on_load;
};

void rwp_tier_init(struct rwp_tier *t, const struct rwp_tier_ops *ops, const char *name);

/* Locked entry points with counters and failure injection. */
void rwp_tier_store(struct rwp_tier *t, struct rwp_store *v, size_t n, size_t page_size,
		    bool last);
int rwp_tier_load(struct rwp_tier *t, uint32_t slot, void *page, size_t page_size);
/* n pages in consecutive slots into consecutive buffers: one read where the tier can. */
int rwp_tier_load_seq(struct rwp_tier *t, uint32_t slot, uint32_t n, void *buf,
		      size_t page_size);
void rwp_tier_drop(struct rwp_tier *t, uint32_t slot, size_t page_size);

/* Read-only image of a region (lazy restore), tier index PS_TIER_IMAGE. */
int rwp_image_new(int fd, off_t offset, struct rwp_tier **out);

#endif
