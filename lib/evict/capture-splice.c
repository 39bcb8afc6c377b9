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
 * Move the next n pages out of the pipe into staging positions [i, i + n): kernel to
 * kernel, into a state file, so that a page is never only in this process's memory.
 */
static int pipe_drain(struct rwp_evictor *e, size_t i, size_t n, size_t page_size)
{
	loff_t off = STAGE_DATA + i * page_size;
	size_t left = n * page_size;

	while (left) {
		ssize_t got = splice(e->pipe[0], NULL, e->stage_fd, &off, left, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		left -= got;
	}
	return 0;
}

int rwp_pipe_drain_page(struct rwp_evictor *e, size_t i, size_t page_size)
{
	return pipe_drain(e, i, 1, page_size);
}

static bool captured(struct rwp_batch *b, size_t i)
{
	return !b->result[i];
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
	/* a page the punch left in the page cache stays; its pipe copy is read and dropped */
	rwp_batch_runs(b, captured, rwp_batch_punch_run, NULL);
	/*
	 * All at once: the pipe gives pages up in order, so a successor tells from what is
	 * left in it which of the DRAINING pages reached the staging data (recover.c).
	 */
	for (size_t i = 0; i < spliced; i++)
		rwp_stage_set(e, i, ST_DRAINING);
	ret = spliced ? pipe_drain(e, 0, spliced, b->r->page_size) : 0;
	if (ret) {
		/* cannot happen with a pipe we own; if it does, nothing here can be trusted */
		rwp_log(e->ctx, RWP_LOG_ERR, "draining the eviction pipe: %d", ret);
		return ret;
	}
	for (size_t i = 0; i < spliced; i++)
		rwp_stage_set(e, i, ST_CAPTURED);
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
