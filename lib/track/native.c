// SPDX-License-Identifier: MIT
/*
 * Native backend (Linux >= 7.3): MODE_RWP with RWP_ASYNC. Protecting a page makes its PTE
 * PROT_NONE with the uffd bit; the next access, by the guest or by the kernel (GUP), is
 * resolved in place and leaves PAGE_IS_ACCESSED for PAGEMAP_SCAN. No round trip.
 */
#include "scan.h"

#include <errno.h>

/* Re-protecting a few pages that are still protected is cheaper than another ioctl. */
#define NATIVE_MERGE_GAP (32 * PAGE_4K)

static unsigned int native_sees(enum rwp_mem mem)
{
	(void)mem;
	return RWP_SEES_READS | RWP_SEES_WRITES | RWP_SEES_KERNEL;
}

static int protect(struct rwp_region *r, uintptr_t start, uintptr_t end)
{
	return rwp_uffd_rwprotect(r->ctx->uffd, start, end - start, UFFDIO_RWPROTECT_MODE_RWP);
}

static int native_arm(struct rwp_region *r)
{
	return protect(r, r->addr, r->addr + r->len);
}

struct native_walk {
	struct rwp_region *r;
	struct rwp_spans spans;
};

static int on_accessed(void *arg, uintptr_t start, uintptr_t end, uint64_t cats)
{
	struct native_walk *w = arg;
	struct rwp_region *r = w->r;

	(void)cats;
	rwp_ages_mark_hot(r, rwp_page_of(r, start), (end - start) >> r->page_shift, false);
	rwp_spans_add(&w->spans, start, end);
	return w->spans.err;
}

/*
 * Only accessed pages lost their protection (an unpopulated page populated since counts as
 * accessed too), so only they are protected again.
 */
static int native_tick(struct rwp_region *r)
{
	struct native_walk w = {
		.r = r,
		.spans = { .merge_gap = NATIVE_MERGE_GAP, .flush = protect, .r = r },
	};
	struct rwp_scan_req req = {
		.start = r->addr,
		.end = r->addr + r->len,
		.category_mask = PAGE_IS_ACCESSED,
		.return_mask = PAGE_IS_ACCESSED,
	};
	int ret;

	rwp_ages_step(r);
	ret = rwp_pagemap_scan(r->ctx, &req, on_accessed, &w);
	if (ret)
		return ret;
	return rwp_spans_finish(&w.spans);
}

/* A sync-mode RWP fault (while frozen): give the page back its access, which wakes. */
static int native_fault(struct rwp_region *r, const struct uffd_msg *msg, uint64_t pg)
{
	(void)msg;
	return rwp_uffd_rwprotect(r->ctx->uffd, rwp_addr_of(r, pg), r->page_size, 0);
}

const struct rwp_backend_ops rwp_backend_native = {
	.id = RWP_BACKEND_NATIVE,
	.name = "native",
	.features = UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC,
	.register_mode = UFFDIO_REGISTER_MODE_RWP,
	.needed_ioctl = 1ULL << _UFFDIO_RWPROTECT,
	.sees = native_sees,
	.arm = native_arm,
	.tick = native_tick,
	.fault = native_fault,
};
