// SPDX-License-Identifier: MIT
/* Detection intervals over all regions of a context. */
#include "scan.h"
#include "../core/maps.h"

#include <errno.h>
#include <string.h>

int rwp_track_scan_tick(struct rwp_region *r, const struct rwp_scan_req *req, size_t merge_gap,
			int (*rearm)(struct rwp_region *r, uintptr_t start, uintptr_t end))
{
	struct rwp_ctx *ctx = r->ctx;
	struct rwp_runs *runs = ctx->runs;
	uint64_t t0, t1, t2, t3, t4;
	int ret;

	t0 = rwp_now_ns();
	rwp_ages_step(r);
	t1 = rwp_now_ns();
	ret = rwp_pagemap_scan(ctx, req, runs);
	t2 = rwp_now_ns();
	if (ret)
		return ret;
	for (size_t i = 0; i < runs->n; i++) {
		const struct page_region *p = &runs->v[i];

		rwp_ages_mark_hot(r, rwp_page_of(r, p->start), (p->end - p->start) >> r->page_shift,
				  p->categories & PAGE_IS_WRITTEN);
	}
	t3 = rwp_now_ns();
	ret = rearm ? rwp_runs_act(r, runs, merge_gap, rearm) : 0;
	t4 = rwp_now_ns();
	ctx->timing.scan_ns += t2 - t1;
	rwp_track_account(r, (t1 - t0) + (t3 - t2), t4 - t3);
	return ret;
}

void rwp_track_account(struct rwp_region *r, uint64_t bookkeeping_ns, uint64_t protect_ns)
{
	struct rwp_track_timing *t = &r->ctx->timing;

	t->bookkeeping_ns += bookkeeping_ns;
	t->protect_ns += protect_ns;
	t->pages += r->nr_pages;
	t->hot_pages += r->hot_last;
}

RWP_EXPORT int rwp_track_timing(struct rwp_ctx *ctx, struct rwp_track_timing *out)
{
	if (!ctx || !out)
		return -EINVAL;
	pthread_mutex_lock(&ctx->track_lock);
	*out = ctx->timing;
	pthread_mutex_unlock(&ctx->track_lock);
	return 0;
}

/* An error that means the owner unmapped the range under us, not that tracking broke. */
static bool range_vanished(int err)
{
	return err == -ENOENT || err == -EFAULT || err == -ENOMEM || err == -EINVAL;
}

/* Is the region still mapped? An error alone does not say it went away. */
static bool rwp_region_mapped(struct rwp_region *r)
{
	return rwp_maps_covers(r->ctx->self ? 0 : r->ctx->pid, r->addr, r->addr + r->len);
}

static int region_step(struct rwp_region *r, bool start)
{
	int ret;

	if (atomic_load(&r->gone))
		return 0;
	if (start || !r->armed) {
		ret = r->ops->arm(r);
		r->armed = !ret;
	} else {
		ret = r->ops->tick(r);
	}
	/* unmapped or moved while we worked on it: not a tracking error */
	if (ret && (atomic_load(&r->gone) || (range_vanished(ret) && !rwp_region_mapped(r)))) {
		rwp_region_mark_gone(r->ctx, r->addr, r->addr + r->len, "vanished");
		return 0;
	}
	if (ret)
		rwp_log(r->ctx, RWP_LOG_ERR, "region %s %#lx: %s %s: %s", r->name,
			(unsigned long)r->addr, r->ops->name, start ? "arm" : "tick",
			strerror(-ret));
	return ret;
}

RWP_EXPORT int rwp_track_start(struct rwp_ctx *ctx)
{
	int ret = 0;

	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->track_lock);
	if (ctx->tracking) {
		ret = -EALREADY;
		goto out;
	}
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		int err = region_step(ctx->regions[i], true);

		ret = ret ?: err;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	ctx->tracking = true;
out:
	pthread_mutex_unlock(&ctx->track_lock);
	return ret;
}

RWP_EXPORT int64_t rwp_track_tick(struct rwp_ctx *ctx)
{
	int64_t hot = 0;
	int ret = 0;

	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->track_lock);
	if (!ctx->tracking) {
		pthread_mutex_unlock(&ctx->track_lock);
		return -EINVAL;
	}
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];
		int err = region_step(r, false);

		ret = ret ?: err;
		if (!atomic_load(&r->gone))
			hot += r->hot_last;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	atomic_fetch_add(&ctx->intervals, 1);
	ctx->timing.ticks++;
	pthread_mutex_unlock(&ctx->track_lock);
	return ret ? ret : hot;
}

RWP_EXPORT uint64_t rwp_track_intervals(const struct rwp_ctx *ctx)
{
	return ctx ? atomic_load(&ctx->intervals) : 0;
}

RWP_EXPORT int64_t rwp_ctx_wss_bytes(struct rwp_ctx *ctx, unsigned int window)
{
	int64_t bytes = 0;

	if (!ctx || window < 1 || window > RWP_AGE_MAX)
		return -EINVAL;
	pthread_mutex_lock(&ctx->track_lock);
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];

		if (!atomic_load(&r->gone))
			bytes += rwp_ages_wss(r, window) * (int64_t)r->page_size;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	pthread_mutex_unlock(&ctx->track_lock);
	return bytes;
}

/*
 * Pages accessed since the last tick, as far as a scan can tell without disturbing the
 * interval: set in bits (one per page). 0 for backends whose fault thread records
 * accesses (the age byte says it), -errno on a scan error.
 */
int rwp_track_touched(struct rwp_region *r, uint64_t *bits)
{
	struct rwp_runs runs = { 0 };
	struct rwp_scan_req req = { .start = r->addr, .end = r->addr + r->len };
	int ret;

	switch (r->ops->id) {
	case RWP_BACKEND_NATIVE:
		req.category_mask = req.return_mask = PAGE_IS_ACCESSED;
		break;
	case RWP_BACKEND_WP_ASYNC:
		if (r->mem == RWP_MEM_ANON)
			req.category_mask = req.return_mask = PAGE_IS_WRITTEN;
		else
			req.category_anyof_mask = req.return_mask = PAGE_IS_PRESENT;
		break;
	default:
		return 0;
	}
	ret = rwp_pagemap_scan(r->ctx, &req, &runs);
	for (size_t i = 0; !ret && i < runs.n; i++) {
		uint64_t first = rwp_page_of(r, runs.v[i].start);
		uint64_t last = rwp_page_of(r, runs.v[i].end - 1);

		for (uint64_t pg = first; pg <= last && pg < r->nr_pages; pg++)
			bits[pg / 64] |= 1ULL << (pg % 64);
	}
	rwp_runs_free(&runs);
	return ret;
}
