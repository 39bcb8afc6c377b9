// SPDX-License-Identifier: MIT
/*
 * Private anonymous capture: UFFDIO_MOVE takes the page out of the guest atomically (a
 * write racing it lands in the page that moves), into a scratch area registered on the
 * same uffd, as MOVE requires. The next guest touch is a MISSING fault, held while BUSY.
 * Only the process owning the memory can do this: MOVE refuses to cross mms.
 */
#include "evict.h"

#include <errno.h>
#include <string.h>

static int scratch_ready(struct rwp_evictor *e, size_t len)
{
	struct rwp_ctx *ctx = e->ctx;
	void *p;
	int ret;

	if (e->scratch_len >= len)
		return 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, len, MADV_NOHUGEPAGE);
	ret = rwp_uffd_register(ctx->uffd, (uintptr_t)p, len, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret) {
		munmap(p, len);
		return ret;
	}
	if (e->scratch) {
		rwp_uffd_unregister(ctx->uffd, (uintptr_t)e->scratch, e->scratch_len);
		munmap(e->scratch, e->scratch_len);
	}
	e->scratch = p;
	e->scratch_len = len;
	return 0;
}

static int move_capture(struct rwp_evictor *e, struct rwp_batch *b)
{
	struct rwp_region *r = b->r;
	int uffd = e->ctx->uffd;
	int ret = scratch_ready(e, b->n * r->page_size);
	size_t moved = 0;

	for (size_t i = 0; i < b->n; i++) {
		uintptr_t src = rwp_addr_of(r, b->pg[i]);
		uintptr_t dst = (uintptr_t)e->scratch + i * r->page_size;

		if (ret) {
			b->result[i] = ret;
			continue;
		}
		/* an RWP-protected page moves readable; an access racing this is not lost */
		if (r->ops->id == RWP_BACKEND_NATIVE)
			rwp_uffd_rwprotect(uffd, src, r->page_size, UFFDIO_RWPROTECT_MODE_DONTWAKE);
		b->result[i] = rwp_uffd_move(uffd, dst, src, r->page_size);
		if (b->result[i] == -ENOENT) {
			/* never populated or discarded: it reads as zeros, and stays a hole */
			memset(b->buf + i * r->page_size, 0, r->page_size);
			b->result[i] = 0;
			rwp_stage_set(e, i, ST_CAPTURED);
			continue;
		}
		if (b->result[i] >= 0) {
			memcpy(b->buf + i * r->page_size, (void *)dst, r->page_size);
			b->result[i] = 0;
			rwp_stage_set(e, i, ST_CAPTURED);
			moved++;
		}
	}
	/* the scratch area is reused by the next batch */
	if (moved)
		madvise(e->scratch, b->n * r->page_size, MADV_DONTNEED);
	return 0;
}

static int move_restore(struct rwp_evictor *e, struct rwp_batch *b, size_t i)
{
	struct rwp_region *r = b->r;
	int ret = rwp_uffd_copy(e->ctx->uffd, rwp_addr_of(r, b->pg[i]), b->buf + i * r->page_size,
				r->page_size, UFFDIO_COPY_MODE_DONTWAKE);

	return ret < 0 ? ret : 0;
}

static int move_drop(struct rwp_evictor *e, struct rwp_batch *b)
{
	(void)e, (void)b;
	return 0; /* moved out at capture */
}

const struct rwp_capture_ops rwp_capture_move = {
	.name = "move",
	.capture = move_capture,
	.drop = move_drop,
	.restore = move_restore,
};
