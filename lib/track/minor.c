// SPDX-License-Identifier: MIT
/*
 * MINOR backend (stock kernels >= 5.14, shmem and hugetlbfs): after the PTEs are zapped,
 * the first access to each page raises a MINOR fault that the fault thread records and
 * resolves with UFFDIO_CONTINUE. One round trip per page per interval, but also the only
 * stock backend where userspace holds every access in its hand: that is the per-page
 * freeze eviction uses on hugetlbfs. MISSING is always registered, so that the first touch
 * of a page not yet in the page cache is seen too.
 */
#include "scan.h"

#include <errno.h>

static unsigned int minor_sees(enum rwp_mem mem)
{
	(void)mem;
	return RWP_SEES_READS | RWP_SEES_WRITES | RWP_SEES_KERNEL;
}

static int minor_arm(struct rwp_region *r)
{
	return rwp_zap(r->ctx, r->addr, r->len);
}

/* Zapping PTEs that are already empty is nearly free: zap the whole region. */
static int minor_tick(struct rwp_region *r)
{
	uint64_t t0 = rwp_now_ns(), t1;
	int ret;

	rwp_ages_fold_touched(r);
	t1 = rwp_now_ns();
	ret = rwp_zap(r->ctx, r->addr, r->len);
	rwp_track_account(r, t1 - t0, rwp_now_ns() - t1);
	return ret;
}

static int minor_fault(struct rwp_region *r, const struct uffd_msg *msg, uint64_t pg)
{
	int ret;

	rwp_ages_touch(r, pg, msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE);
	ret = rwp_uffd_continue(r->ctx->uffd, rwp_addr_of(r, pg), r->page_size);
	if (ret == -EEXIST)
		ret = rwp_uffd_wake(r->ctx->uffd, rwp_addr_of(r, pg), r->page_size);
	return ret < 0 ? ret : 0;
}

const struct rwp_backend_ops rwp_backend_minor = {
	.id = RWP_BACKEND_MINOR,
	.name = "minor",
	.features = 0, /* MINOR_SHMEM or MINOR_HUGETLBFS, checked per memory type */
	.register_mode = UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_MISSING,
	.needed_ioctl = 1ULL << _UFFDIO_CONTINUE,
	.sees = minor_sees,
	.arm = minor_arm,
	.tick = minor_tick,
	.fault = minor_fault,
	.ages_from_faults = true,
};
