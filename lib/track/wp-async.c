// SPDX-License-Identifier: MIT
/*
 * WP-async backend (stock kernels >= 6.7), exact without a round trip.
 *
 * Shared memory: a WP-async registration turns fault-around off, so after the PTEs are
 * zapped (the pages stay in the page cache) every access refaults in the kernel, one page
 * at a time, and PAGE_IS_PRESENT tells exactly which pages were touched. The write
 * protection left on each page (a PTE marker once zapped) makes PAGE_IS_WRITTEN the dirty
 * set. Each tick scans with PM_SCAN_WP_MATCHING, which re-protects what it reports in the
 * same walk, then zaps only where pages were present.
 *
 * Private anonymous memory cannot be zapped without losing it: only writes are seen.
 */
#include "scan.h"

#include <errno.h>

/* A zap of an empty PTE costs ~0.02 ns, a syscall ~1 us: merge generously. */
#define ZAP_MERGE_PAGES 256

static unsigned int wp_sees(enum rwp_mem mem)
{
	if (mem == RWP_MEM_ANON)
		return RWP_SEES_WRITES | RWP_SEES_DIRTY | RWP_SEES_KERNEL;
	return RWP_SEES_READS | RWP_SEES_WRITES | RWP_SEES_DIRTY | RWP_SEES_KERNEL;
}

static int zap(struct rwp_region *r, uintptr_t start, uintptr_t end)
{
	return rwp_zap(r->ctx, start, end - start);
}

static int wp_arm(struct rwp_region *r)
{
	/* with WP_UNPOPULATED this also leaves markers where nothing is mapped yet */
	int ret = rwp_uffd_writeprotect(r->ctx->uffd, r->addr, r->len,
					UFFDIO_WRITEPROTECT_MODE_WP);

	if (ret || r->mem == RWP_MEM_ANON)
		return ret;
	return zap(r, r->addr, r->addr + r->len);
}

/*
 * Shared memory: present pages were touched; PM_SCAN_WP_MATCHING write-protects them again
 * in the same walk, then they are zapped. Anon: written pages were touched. The kernel
 * also calls an empty PTE "written" in a WP area (content reset to zero by MADV_DONTNEED),
 * and the zero page a read maps there afterwards too: neither is a write by the guest, so
 * only present or swapped pages other than the zero page count. They stay unprotected
 * until written, which maps a new page that the next scan sees.
 */
static int wp_tick(struct rwp_region *r)
{
	struct rwp_scan_req req = {
		.start = r->addr,
		.end = r->addr + r->len,
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_WRITTEN,
	};

	if (r->mem == RWP_MEM_ANON) {
		req.category_mask = PAGE_IS_WRITTEN | PAGE_IS_PFNZERO;
		req.category_inverted = PAGE_IS_PFNZERO;
		req.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
		return rwp_track_scan_tick(r, &req, 0, NULL);
	}
	req.category_anyof_mask = PAGE_IS_PRESENT;
	return rwp_track_scan_tick(r, &req, ZAP_MERGE_PAGES * r->page_size, zap);
}

/* Async WP never blocks; a sync WP fault can only come from a uffd shared with others. */
static int wp_fault(struct rwp_region *r, const struct uffd_msg *msg, uint64_t pg)
{
	(void)msg;
	return rwp_uffd_writeprotect(r->ctx->uffd, rwp_addr_of(r, pg), r->page_size, 0);
}

const struct rwp_backend_ops rwp_backend_wp_async = {
	.id = RWP_BACKEND_WP_ASYNC,
	.name = "wp-async",
	.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
		    UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	.register_mode = UFFDIO_REGISTER_MODE_WP,
	.needed_ioctl = 1ULL << _UFFDIO_WRITEPROTECT,
	.sees = wp_sees,
	.arm = wp_arm,
	.tick = wp_tick,
	.fault = wp_fault,
};
