// SPDX-License-Identifier: MIT
/* PAGEMAP_SCAN walks of the managed process's page tables. */
#include "scan.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

/* 4096 runs per ioctl: a 1 GiB region with every 10th page hot takes 7 calls. */
#define SCAN_VEC_LEN 4096

int rwp_scan_buf_new(struct rwp_scan_buf **out)
{
	struct rwp_scan_buf *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->vec = calloc(SCAN_VEC_LEN, sizeof(*b->vec));
	if (!b->vec) {
		free(b);
		return -ENOMEM;
	}
	b->len = SCAN_VEC_LEN;
	*out = b;
	return 0;
}

void rwp_scan_buf_free(struct rwp_scan_buf *b)
{
	if (!b)
		return;
	free(b->vec);
	free(b);
}

/*
 * Completion is told by a short answer, not by walk_end: on 6.18 a scan that needed
 * several internal passes leaves walk_end at the start of the last pass.
 */
int rwp_pagemap_scan(struct rwp_ctx *ctx, const struct rwp_scan_req *req, rwp_scan_fn fn,
		     void *arg)
{
	struct rwp_scan_buf *b = ctx->scan;
	uintptr_t start = req->start;

	while (start < req->end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = req->flags,
			.start = start,
			.end = req->end,
			.vec = (uintptr_t)b->vec,
			.vec_len = b->len,
			.category_mask = req->category_mask,
			.category_anyof_mask = req->category_anyof_mask,
			.return_mask = req->return_mask,
		};
		long n = ioctl(ctx->pagemap_fd, PAGEMAP_SCAN, &a);
		uintptr_t next;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (long i = 0; i < n; i++) {
			int ret = fn(arg, b->vec[i].start, b->vec[i].end, b->vec[i].categories);

			if (ret)
				return ret;
		}
		if ((size_t)n < b->len)
			break;
		next = a.walk_end > b->vec[n - 1].end ? a.walk_end : b->vec[n - 1].end;
		if (next <= start)
			return -EIO;
		start = next;
	}
	return 0;
}
