// SPDX-License-Identifier: MIT
/* Per-region eviction set-up: the page state map, our own mapping, the capture method. */
#include "evict.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rwp_capture_choose(struct rwp_region *r, char *why, size_t n)
{
	struct rwp_ctx *ctx = r->ctx;

	switch (r->mem) {
	case RWP_MEM_SHMEM:
		r->capture = &rwp_capture_splice;
		return 0;
	case RWP_MEM_HUGETLB:
		if (r->ops->id == RWP_BACKEND_WP_ASYNC) {
			snprintf(why, n, "hugetlbfs on the wp-async backend has no per-page freeze "
					 "(hugetlbfs cannot splice): use the minor or native backend");
			return -EOPNOTSUPP;
		}
		r->capture = &rwp_capture_hold;
		return 0;
	case RWP_MEM_ANON:
		if (!ctx->self) {
			snprintf(why, n, "private anonymous memory of another process cannot be "
					 "evicted (UFFDIO_MOVE works within one process only)");
			return -EOPNOTSUPP;
		}
		if (!(ctx->features & UFFD_FEATURE_MOVE)) {
			snprintf(why, n, "evicting private anonymous memory needs UFFDIO_MOVE");
			return -EOPNOTSUPP;
		}
		r->capture = &rwp_capture_move;
		return 0;
	}
	snprintf(why, n, "unknown memory type");
	return -EINVAL;
}

int rwp_evict_region_setup(struct rwp_region *r)
{
	struct rwp_ctx *ctx = r->ctx;
	uint64_t missing = r->mem == RWP_MEM_SHMEM	 ? UFFD_FEATURE_MISSING_SHMEM
			   : r->mem == RWP_MEM_HUGETLB ? UFFD_FEATURE_MISSING_HUGETLBFS
						       : 0;
	char why[160];
	int ret;

	if (!(r->flags & RWP_REGION_EVICTABLE))
		return 0;
	if ((ctx->features & missing) != missing)
		return rwp_err(ctx, EOPNOTSUPP, "region %s: the uffd lacks missing faults on %s",
			       r->name, rwp_mem_name(r->mem));
	ret = rwp_capture_choose(r, why, sizeof(why));
	if (ret)
		return rwp_err(ctx, -ret, "region %s cannot be evictable: %s", r->name, why);
	r->state = calloc(r->nr_pages, sizeof(*r->state));
	if (!r->state)
		return -ENOMEM;
	if (r->mem != RWP_MEM_ANON) {
		r->io_mem = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, r->offset);
		if (r->io_mem == MAP_FAILED) {
			r->io_mem = NULL;
			return rwp_err(ctx, errno, "region %s: mapping its file: %s", r->name,
				       strerror(errno));
		}
	}
	/*
	 * A forked child would map the guest's memory unregistered, and its first touch of an
	 * evicted shmem page would put a zero page where the guest's data belongs.
	 */
	if (ctx->self && madvise((void *)r->addr, r->len, MADV_DONTFORK))
		rwp_log(ctx, RWP_LOG_WARN, "region %s: MADV_DONTFORK: %s", r->name, strerror(errno));
	return 0;
}

void rwp_evict_region_teardown(struct rwp_region *r)
{
	if (r->io_mem)
		munmap(r->io_mem, r->len);
	if (r->image) {
		r->image->attached = false;
		rwp_tier_free(r->image);
	}
	free((void *)r->state);
	r->io_mem = NULL;
	r->image = NULL;
	r->state = NULL;
}

int rwp_evictor_get(struct rwp_ctx *ctx, struct rwp_evictor **out)
{
	struct rwp_evictor *e = ctx->evictor;
	size_t huge = 2UL << 20;

	if (e) {
		*out = e;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ctx = ctx;
	e->pipe[0] = e->pipe[1] = -1;
	/* room for one batch of 4 KiB pages or one huge page */
	e->batch.buf = mmap(NULL, BATCH_BYTES > huge ? BATCH_BYTES : huge, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->batch.buf == MAP_FAILED || pipe2(e->pipe, O_CLOEXEC)) {
		if (e->batch.buf == MAP_FAILED)
			e->batch.buf = NULL;
		rwp_evictor_free(e);
		return -ENOMEM;
	}
	/* a splice batch is as many pages as the pipe holds */
	fcntl(e->pipe[1], F_SETPIPE_SZ, BATCH_BYTES);
	e->pipe_pages = fcntl(e->pipe[1], F_GETPIPE_SZ) / PAGE_4K;
	ctx->evictor = e;
	*out = e;
	return 0;
}

void rwp_evictor_free(struct rwp_evictor *e)
{
	if (!e)
		return;
	if (e->pipe[0] >= 0)
		close(e->pipe[0]);
	if (e->pipe[1] >= 0)
		close(e->pipe[1]);
	if (e->batch.buf)
		munmap(e->batch.buf, BATCH_BYTES > (2UL << 20) ? BATCH_BYTES : (2UL << 20));
	if (e->scratch) {
		rwp_uffd_unregister(e->ctx->uffd, (uintptr_t)e->scratch, e->scratch_len);
		munmap(e->scratch, e->scratch_len);
	}
	free(e);
}
