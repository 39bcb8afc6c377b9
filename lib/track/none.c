// SPDX-License-Identifier: MIT
/*
 * No tracking: for memory rwp only fetches into (a lazy restore through a userfaultfd
 * registered by someone else, MISSING only). Never chosen automatically.
 */
#include "../internal.h"

static unsigned int none_sees(enum rwp_mem mem)
{
	(void)mem;
	return 0;
}

static int none_step(struct rwp_region *r)
{
	(void)r;
	return 0;
}

static int none_fault(struct rwp_region *r, const struct uffd_msg *msg, uint64_t pg)
{
	(void)msg;
	return rwp_uffd_wake(r->ctx->uffd, rwp_addr_of(r, pg), r->page_size);
}

const struct rwp_backend_ops rwp_backend_none = {
	.id = RWP_BACKEND_NONE,
	.name = "none",
	.register_mode = 0, /* MISSING comes with RWP_REGION_LAZY or _EVICTABLE */
	.needed_ioctl = 1ULL << _UFFDIO_COPY,
	.sees = none_sees,
	.arm = none_step,
	.tick = none_step,
	.fault = none_fault,
};
