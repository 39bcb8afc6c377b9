// SPDX-License-Identifier: MIT
/* Per-region eviction set-up: the page state map, our own mapping, the capture method. */
#include "evict.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* The page state map: a header page, then one word per page, in a state file. */
#define MAP_MAGIC 0x31504d4150575200ULL
struct map_hdr {
	uint64_t magic;
	uint64_t nr_pages;
	uint64_t page_size;
	uint64_t len;
};

static size_t map_bytes(const struct rwp_region *r)
{
	return PAGE_4K + r->nr_pages * sizeof(ps_t);
}

static int map_open(struct rwp_region *r)
{
	struct rwp_ctx *ctx = r->ctx;
	struct map_hdr *h;
	struct stat st;
	char name[32];
	void *m;
	int fd, ret;

	snprintf(name, sizeof(name), "region-%d.map", r->index);
	ret = rwp_state_open(ctx, name, &fd);
	if (ret)
		return ret;
	if (fstat(fd, &st) || (!st.st_size && ftruncate(fd, map_bytes(r)))) {
		ret = rwp_err(ctx, errno, "%s: %s", name, strerror(errno));
		close(fd);
		return ret;
	}
	m = mmap(NULL, map_bytes(r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return rwp_err(ctx, errno, "%s: %s", name, strerror(errno));
	h = m;
	if (!h->magic) {
		*h = (struct map_hdr){ MAP_MAGIC, r->nr_pages, r->page_size, r->len };
	} else if (h->magic != MAP_MAGIC || h->nr_pages != r->nr_pages ||
		   h->page_size != r->page_size || h->len != r->len) {
		munmap(m, map_bytes(r));
		return rwp_err(ctx, EINVAL, "%s: saved for another region (%llu pages of %llu)",
			       name, (unsigned long long)h->nr_pages,
			       (unsigned long long)h->page_size);
	}
	r->state = (_Atomic ps_t *)((uint8_t *)m + PAGE_4K);
	/* a map left by a predecessor: count what it had evicted, and settle it first */
	for (uint64_t pg = 0; pg < r->nr_pages; pg++)
		if (ps_kind(ps_load(&r->state[pg])) != PS_RESIDENT)
			r->nonresident++;
	if (st.st_size)
		atomic_store(&ctx->recovering, true);
	return 0;
}

int rwp_evict_region_setup(struct rwp_region *r)
{
	struct rwp_ctx *ctx = r->ctx;
	uint64_t missing = r->mem == RWP_MEM_SHMEM	 ? UFFD_FEATURE_MISSING_SHMEM
			   : r->mem == RWP_MEM_HUGETLB ? UFFD_FEATURE_MISSING_HUGETLBFS
						       : 0;
	char why[160];
	int ret;

	if (!(r->flags & (RWP_REGION_EVICTABLE | RWP_REGION_LAZY)))
		return 0;
	if ((ctx->features & missing) != missing)
		return rwp_err(ctx, EOPNOTSUPP, "region %s: the uffd lacks missing faults on %s",
			       r->name, rwp_mem_name(r->mem));
	/* a lazy region only needs to know where each page is */
	if (!(r->flags & RWP_REGION_EVICTABLE))
		return map_open(r);
	ret = rwp_capture_choose(r, why, sizeof(why));
	if (ret)
		return rwp_err(ctx, -ret, "region %s cannot be evictable: %s", r->name, why);
	ret = map_open(r);
	if (ret)
		return ret;
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
	char name[32];

	if (r->io_mem)
		munmap(r->io_mem, r->len);
	if (r->image) {
		r->image->attached = false;
		rwp_tier_free(r->image);
	}
	if (r->state) {
		munmap((uint8_t *)r->state - PAGE_4K, map_bytes(r));
		snprintf(name, sizeof(name), "region-%d.map", r->index);
		rwp_state_remove(r->ctx, name);
	}
	r->io_mem = NULL;
	r->image = NULL;
	r->state = NULL;
}

static int stage_open(struct rwp_evictor *e)
{
	struct rwp_ctx *ctx = e->ctx;
	size_t len = STAGE_DATA + STAGE_DATA_LEN;
	struct stat st;
	void *m;
	int ret = rwp_state_open(ctx, "staging", &e->stage_fd);

	if (ret)
		return ret;
	if (fstat(e->stage_fd, &st) || ((size_t)st.st_size < len && ftruncate(e->stage_fd, len)))
		return rwp_err(ctx, errno, "staging: %s", strerror(errno));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, e->stage_fd, 0);
	if (m == MAP_FAILED)
		return rwp_err(ctx, errno, "staging: %s", strerror(errno));
	e->stage = m;
	if (!e->stage->magic) {
		e->stage->region = -1;
		e->stage->magic = STAGE_MAGIC;
	} else if (e->stage->magic != STAGE_MAGIC) {
		return rwp_err(ctx, EINVAL, "staging: not an rwp staging file");
	}
	e->batch.buf = (uint8_t *)m + STAGE_DATA;
	return 0;
}

int rwp_evictor_get(struct rwp_ctx *ctx, struct rwp_evictor **out)
{
	struct rwp_evictor *e = ctx->evictor;
	int ret;

	if (e) {
		*out = e;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ctx = ctx;
	e->stage_fd = e->pipe[0] = e->pipe[1] = -1;
	ret = stage_open(e);
	if (ret)
		goto err;
	if (ctx->keep_pipe) {
		e->pipe[0] = ctx->pipe_fds[0];
		e->pipe[1] = ctx->pipe_fds[1];
	} else if (pipe2(e->pipe, O_CLOEXEC)) {
		ret = -errno;
		goto err;
	} else {
		e->own_pipe = true;
	}
	/* a splice batch is as many pages as the pipe holds */
	fcntl(e->pipe[1], F_SETPIPE_SZ, BATCH_BYTES);
	e->pipe_pages = fcntl(e->pipe[1], F_GETPIPE_SZ) / PAGE_4K;
	ctx->evictor = e;
	*out = e;
	return 0;
err:
	rwp_evictor_free(e);
	return ret;
}

void rwp_evictor_free(struct rwp_evictor *e)
{
	if (!e)
		return;
	if (e->own_pipe) {
		close(e->pipe[0]);
		close(e->pipe[1]);
	}
	if (e->stage)
		munmap(e->stage, STAGE_DATA + STAGE_DATA_LEN);
	if (e->stage_fd >= 0)
		close(e->stage_fd);
	rwp_state_remove(e->ctx, "staging");
	if (e->scratch) {
		rwp_uffd_unregister(e->ctx->uffd, (uintptr_t)e->scratch, e->scratch_len);
		munmap(e->scratch, e->scratch_len);
	}
	free(e);
}
