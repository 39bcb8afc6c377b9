/* SPDX-License-Identifier: MIT */
/* PAGEMAP_SCAN output buffers and span coalescing for the tracking backends. */
#ifndef RWP_SCAN_H
#define RWP_SCAN_H

#include "../internal.h"

struct rwp_scan_buf {
	struct page_region *vec;
	size_t len;
};

/*
 * Spans of address space to act on (re-protect, zap), merged while the gap between them
 * is small: one syscall over a few already-clean pages is cheaper than two syscalls.
 */
struct rwp_spans {
	uintptr_t start, end;
	size_t merge_gap;
	int (*flush)(struct rwp_region *r, uintptr_t start, uintptr_t end);
	struct rwp_region *r;
	int err;
};

static inline void rwp_spans_add(struct rwp_spans *s, uintptr_t start, uintptr_t end)
{
	if (s->end && start <= s->end + s->merge_gap) {
		if (end > s->end)
			s->end = end;
		return;
	}
	if (s->end && !s->err)
		s->err = s->flush(s->r, s->start, s->end);
	s->start = start;
	s->end = end;
}

static inline int rwp_spans_finish(struct rwp_spans *s)
{
	if (s->end && !s->err)
		s->err = s->flush(s->r, s->start, s->end);
	s->start = s->end = 0;
	return s->err;
}

#endif
