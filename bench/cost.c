// SPDX-License-Identifier: MIT
/*
 * Part 1: what one detection interval costs librwp, as rwp_track_timing() splits it (scan,
 * bookkeeping, protect), plus the refault each touched page pays: the touching loop timed
 * under tracking minus the same loop over an untracked identical region.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The hot set the last tick reported, compared bit for bit with the truth. */
static bool same_bitmap(struct rwp_region *r, const uint64_t *truth, size_t nr_pages)
{
	uint64_t *bits = calloc((nr_pages + 63) / 64, sizeof(*bits));
	bool same;

	if (!bits)
		return false;
	same = rwp_region_hot_bitmap(r, bits, nr_pages) >= 0 &&
	       !memcmp(bits, truth, (nr_pages + 63) / 64 * sizeof(*bits));
	free(bits);
	return same;
}

int cost_measure(struct rwp_ctx *ctx, struct rwp_region *r, const struct guestmem *g,
		 const struct hotset *h, unsigned int intervals, double untracked_ns,
		 struct cost *c)
{
	struct rwp_region_info info;
	uint64_t *v = calloc(4 * (size_t)intervals, sizeof(*v)), *truth = NULL;
	uint64_t *scan = v, *book = v + intervals, *prot = v + 2 * intervals;
	uint64_t *touch = v + 3 * intervals;
	bool writes_only;
	int64_t hot;
	int ret = -ENOMEM;

	memset(c, 0, sizeof(*c));
	if (!v)
		return ret;
	rwp_region_info(r, &info);
	writes_only = !(info.sees & RWP_SEES_READS);
	truth = hotset_bitmap(h, g->nr_pages, writes_only);
	if (!truth)
		goto out;
	c->want = writes_only ? (int64_t)h->nr_written : (int64_t)h->n;

	/* the first interval with this hot set is not measured (the previous set ages out) */
	hotset_touch(g, h);
	hot = rwp_track_tick(ctx);
	if (hot < 0) {
		ret = (int)hot;
		goto out;
	}
	c->exact = hot == c->want;
	for (unsigned int k = 0; k < intervals; k++) {
		struct rwp_track_timing t0, t1;

		rwp_track_timing(ctx, &t0);
		touch[k] = hotset_touch(g, h);
		hot = rwp_track_tick(ctx);
		rwp_track_timing(ctx, &t1);
		if (hot < 0) {
			ret = (int)hot;
			goto out;
		}
		c->exact &= hot == c->want;
		scan[k] = t1.scan_ns - t0.scan_ns;
		book[k] = t1.bookkeeping_ns - t0.bookkeeping_ns;
		prot[k] = t1.protect_ns - t0.protect_ns;
	}
	c->got = hot;
	c->exact &= same_bitmap(r, truth, g->nr_pages);
	c->scan = median_u64(scan, intervals) / g->nr_pages;
	c->bookkeeping = median_u64(book, intervals) / g->nr_pages;
	c->protect = median_u64(prot, intervals) / g->nr_pages;
	c->touch_ns = median_u64(touch, intervals);
	c->refault = (c->touch_ns - untracked_ns) / h->n;
	ret = 0;
out:
	free(truth);
	free(v);
	return ret;
}
