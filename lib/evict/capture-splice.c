// SPDX-License-Identifier: MIT
/*
 * shmem capture without a freeze: splice() of a memfd page into a pipe takes a reference
 * to the live page-cache page, not a copy. Punching the page afterwards takes it out of
 * the guest (the next touch is a MISSING fault, held while the page is BUSY), and reading
 * the pipe then yields every write made up to the punch.
 */
#include "evict.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int splice_page(struct rwp_evictor *e, struct rwp_region *r, uint64_t pg)
{
	loff_t off = r->offset + (off_t)(pg << r->page_shift);
	size_t left = r->page_size;

	while (left) {
		ssize_t n = splice(r->fd, &off, e->pipe[1], NULL, left, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		left -= n;
	}
	return 0;
}

/*
 * Move the next page out of the pipe into staging position i: kernel to kernel, into a
 * state file, so that the page is never only in this process's memory.
 */
int rwp_pipe_drain_page(struct rwp_evictor *e, size_t i, size_t page_size)
{
	loff_t off = STAGE_DATA + i * page_size;
	size_t left = page_size;

	while (left) {
		ssize_t n = splice(e->pipe[0], NULL, e->stage_fd, &off, left, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		left -= n;
	}
	return 0;
}

static bool captured(struct rwp_batch *b, size_t i)
{
	return !b->result[i];
}

static int punch_run(struct rwp_batch *b, size_t from, size_t to, void *arg)
{
	int ret = rwp_punch(b->r, b->pg[from], to - from);

	(void)arg;
	/* still in the page cache: the page stays, its pipe copy is read and dropped */
	for (size_t i = from; ret && i < to; i++)
		b->result[i] = ret;
	return 0;
}

static int splice_capture(struct rwp_evictor *e, struct rwp_batch *b)
{
	size_t spliced = 0;
	int ret = 0;

	/* each status is written before its step: see recover.c */
	for (; spliced < b->n && spliced < e->pipe_pages; spliced++) {
		rwp_stage_set(e, spliced, ST_SPLICING);
		ret = splice_page(e, b->r, b->pg[spliced]);
		if (ret)
			break;
		rwp_stage_set(e, spliced, ST_SPLICED);
		b->result[spliced] = 0;
	}
	/* pages past a failed splice are not captured: they stay */
	for (size_t i = spliced; i < b->n; i++) {
		b->result[i] = ret ?: -EAGAIN;
		rwp_stage_set(e, i, ST_CLAIMED);
	}
	rwp_batch_runs(b, captured, punch_run, NULL);
	for (size_t i = 0; i < spliced; i++) {
		rwp_stage_set(e, i, ST_DRAINING);
		ret = rwp_pipe_drain_page(e, i, b->r->page_size);
		if (ret) {
			/* cannot happen with a pipe we own; if it does, nothing here can be trusted */
			rwp_log(e->ctx, RWP_LOG_ERR, "draining the eviction pipe: %d", ret);
			return ret;
		}
		rwp_stage_set(e, i, ST_CAPTURED);
	}
	return 0;
}

static int splice_restore(struct rwp_evictor *e, struct rwp_batch *b, size_t i)
{
	struct rwp_region *r = b->r;
	uint64_t mode = r->ops->id == RWP_BACKEND_WP_ASYNC ? UFFDIO_COPY_MODE_WP : 0;
	int ret = rwp_uffd_copy(e->ctx->uffd, rwp_addr_of(r, b->pg[i]), b->buf + i * r->page_size,
				r->page_size, mode | UFFDIO_COPY_MODE_DONTWAKE);

	return ret < 0 ? ret : 0;
}

static int splice_drop(struct rwp_evictor *e, struct rwp_batch *b)
{
	(void)e, (void)b;
	return 0; /* punched at capture */
}

const struct rwp_capture_ops rwp_capture_splice = {
	.name = "splice",
	.capture = splice_capture,
	.drop = splice_drop,
	.restore = splice_restore,
};
