// SPDX-License-Identifier: MIT
/* PAGEMAP_SCAN walks of the managed process's page tables. */
#include "scan.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

/* The first buffer: a 1 GiB region with every 10th page hot needs 26214 runs. */
#define RUNS_MIN 4096

void rwp_runs_free(struct rwp_runs *runs)
{
	free(runs->v);
	runs->v = NULL;
	runs->n = runs->cap = 0;
}

static int runs_reserve(struct rwp_runs *runs, size_t more)
{
	size_t cap;
	void *v;

	if (runs->cap - runs->n >= more)
		return 0;
	cap = runs->cap ? runs->cap : RUNS_MIN;
	while (cap - runs->n < more)
		cap *= 2;
	v = realloc(runs->v, cap * sizeof(*runs->v));
	if (!v)
		return -ENOMEM;
	runs->v = v;
	runs->cap = cap;
	return 0;
}

/*
 * Completion is told by a short answer, not by walk_end: on 6.18 a scan that needed
 * several internal passes leaves walk_end at the start of the last pass.
 */
int rwp_pagemap_scan(struct rwp_ctx *ctx, const struct rwp_scan_req *req,
		     struct rwp_runs *runs)
{
	uintptr_t start = req->start;

	runs->n = 0;
	while (start < req->end) {
		int ret = runs_reserve(runs, RUNS_MIN);

		if (ret)
			return ret;

		struct page_region *v = runs->v + runs->n;
		size_t room = runs->cap - runs->n;
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = req->flags,
			.start = start,
			.end = req->end,
			.vec = (uintptr_t)v,
			.vec_len = room,
			.category_mask = req->category_mask,
			.category_anyof_mask = req->category_anyof_mask,
			.category_inverted = req->category_inverted,
			.return_mask = req->return_mask,
		};
		long n = ioctl(ctx->pagemap_fd, PAGEMAP_SCAN, &a);
		uintptr_t next;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		runs->n += n;
		if ((size_t)n < room)
			break;
		next = a.walk_end > v[n - 1].end ? a.walk_end : v[n - 1].end;
		if (next <= start)
			return -EIO;
		start = next;
	}
	return 0;
}

int rwp_runs_act(struct rwp_region *r, const struct rwp_runs *runs, size_t merge_gap,
		 int (*act)(struct rwp_region *r, uintptr_t start, uintptr_t end))
{
	uintptr_t start = 0, end = 0;
	int ret;

	for (size_t i = 0; i < runs->n; i++) {
		const struct page_region *p = &runs->v[i];

		if (end && p->start <= end + merge_gap) {
			if (p->end > end)
				end = p->end;
			continue;
		}
		if (end && (ret = act(r, start, end)))
			return ret;
		start = p->start;
		end = p->end;
	}
	return end ? act(r, start, end) : 0;
}
