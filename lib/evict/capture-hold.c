// SPDX-License-Identifier: MIT
/*
 * Capture by holding every access: on the minor backend, zapping the page's PTEs makes the
 * next touch a MINOR fault; on the native backend in sync mode, protecting it makes the
 * next touch an RWP fault. Either reaches the fault thread, which holds it while the page
 * is BUSY. The page is then copied through our own untracked mapping of the file, and
 * punched once stored.
 */
#include "evict.h"

#include <errno.h>
#include <string.h>

static bool all(struct rwp_batch *b, size_t i)
{
	(void)b, (void)i;
	return true;
}

static bool stored(struct rwp_batch *b, size_t i)
{
	return !b->result[i];
}

static int fence_run(struct rwp_batch *b, size_t from, size_t to, void *arg)
{
	struct rwp_region *r = b->r;
	uintptr_t addr = rwp_addr_of(r, b->pg[from]);
	size_t len = (to - from) << r->page_shift;
	int ret;

	(void)arg;
	if (r->ops->id == RWP_BACKEND_NATIVE)
		ret = rwp_uffd_rwprotect(r->ctx->uffd, addr, len, UFFDIO_RWPROTECT_MODE_RWP);
	else
		ret = rwp_zap(r->ctx, addr, len);
	for (size_t i = from; i < to; i++)
		b->result[i] = ret;
	return 0;
}

static int hold_capture(struct rwp_evictor *e, struct rwp_batch *b)
{
	struct rwp_region *r = b->r;

	for (size_t i = 0; i < b->n; i++)
		b->result[i] = 0;
	rwp_batch_runs(b, all, fence_run, NULL);
	for (size_t i = 0; i < b->n; i++) {
		if (b->result[i])
			continue;
		memcpy(b->buf + i * r->page_size, r->io_mem + (b->pg[i] << r->page_shift),
		       r->page_size);
		rwp_stage_set(e, i, ST_CAPTURED);
	}
	return 0;
}

static int hold_drop(struct rwp_evictor *e, struct rwp_batch *b)
{
	(void)e;
	return rwp_batch_runs(b, stored, rwp_batch_punch_run, NULL);
}

static int hold_restore(struct rwp_evictor *e, struct rwp_batch *b, size_t i)
{
	(void)e, (void)b, (void)i;
	return 0; /* never left the page cache */
}

const struct rwp_capture_ops rwp_capture_hold = {
	.name = "hold",
	.capture = hold_capture,
	.drop = hold_drop,
	.restore = hold_restore,
};
