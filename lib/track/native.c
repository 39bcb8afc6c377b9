// SPDX-License-Identifier: MIT
/*
 * Native backend (Linux >= 7.3): MODE_RWP with RWP_ASYNC. Protecting a page makes its PTE
 * PROT_NONE with the uffd bit; the next access, by the guest or by the kernel (GUP), is
 * resolved in place and leaves PAGE_IS_ACCESSED for PAGEMAP_SCAN. No round trip.
 */
#include "scan.h"

#include <errno.h>

/* Re-protecting a few pages that are still protected is cheaper than another ioctl. */
#define NATIVE_MERGE_PAGES 32

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

/*
 * Only accessed pages lost their protection (a page populated since the last tick counts
 * as accessed too), so only they are protected again.
 */
static int native_tick(struct rwp_region *r)
{
	struct rwp_scan_req req = {
		.start = r->addr,
		.end = r->addr + r->len,
		.category_mask = PAGE_IS_ACCESSED,
		.return_mask = PAGE_IS_ACCESSED,
	};

	return rwp_track_scan_tick(r, &req, NATIVE_MERGE_PAGES * r->page_size, protect);
}

/* A sync-mode RWP fault (while frozen): give the page back its access, which wakes. */
static int native_fault(struct rwp_region *r, const struct uffd_msg *msg, uint64_t pg)
{
	(void)msg;
	return rwp_uffd_rwprotect(r->ctx->uffd, rwp_addr_of(r, pg), r->page_size, 0);
}

/*
 * The owner dropped [start, end) with MADV_DONTNEED (a REMOVE event, read before the zap).
 * On hugetlbfs, Linux 7.3 keeps the RWP bit in each emptied entry as a marker: a read then
 * maps the page back still protected (the access is never seen) and a write blocks for
 * good. Unprotecting the range, before or after the zap, leaves no marker: what is touched
 * afterwards is seen like any first touch. Until the dropping thread runs again the kernel
 * answers -EAGAIN: the caller retries later.
 */
int rwp_native_removed(struct rwp_ctx *ctx, uintptr_t start, uintptr_t end)
{
	int ret = 0;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];
		uintptr_t s = start > r->addr ? start : r->addr;
		uintptr_t e = end < r->addr + r->len ? end : r->addr + r->len;

		if (r->ops != &rwp_backend_native || r->mem != RWP_MEM_HUGETLB || s >= e ||
		    atomic_load(&r->gone))
			continue;
		s &= ~(r->page_size - 1);
		e = (e + r->page_size - 1) & ~(r->page_size - 1);
		if (rwp_uffd_rwprotect(ctx->uffd, s, e - s, 0) == -EAGAIN)
			ret = -EAGAIN;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	return ret;
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
