// SPDX-License-Identifier: MIT
/* The eviction pass: pick cold pages by policy, evict them batch by batch, demote. */
#include "evict.h"
#include "../opts.h"
#include "../track/scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pass {
	struct rwp_evictor *e;
	struct rwp_evict_result *res;
	unsigned int min_age;	 /* evict resident pages at least this idle */
	uint64_t budget;	 /* pages left to evict */
};

static uint8_t age_byte(const struct rwp_region *r, uint64_t pg)
{
	return __atomic_load_n(&((const uint8_t *)r->ages)[pg], __ATOMIC_RELAXED);
}

static void capture_commit(struct rwp_evictor *e, struct rwp_batch *b,
			   struct rwp_evict_result *res)
{
	int ret = b->r->capture->capture(e, b);

	if (ret) {
		rwp_log(e->ctx, RWP_LOG_ERR, "region %s: %s capture failed: %d", b->r->name,
			b->r->capture->name, ret);
		for (size_t i = 0; i < b->n; i++)
			b->result[i] = ret;
	}
	rwp_batch_commit(e, b, res);
}

/* Claim a resident page for the batch, committing the batch when it is full. */
static bool take(struct pass *p, struct rwp_region *r, uint64_t pg, ps_t s)
{
	struct rwp_batch *b = &p->e->batch;
	size_t max = rwp_batch_max(r);

	if (r->capture == &rwp_capture_splice && max > p->e->pipe_pages)
		max = p->e->pipe_pages;
	if (!rwp_batch_claim(p->e, r, pg, s))
		return false;
	if (s & PS_PREFETCHED)
		atomic_fetch_add(&r->ctx->cnt.prefetch_waste, 1);
	p->res->candidates++;
	if (b->n == max)
		capture_commit(p->e, b, p->res);
	return true;
}

static void pass_region(struct pass *p, struct rwp_region *r)
{
	struct rwp_batch *b = &p->e->batch;
	/* touched since the tick: the ages do not know it yet, but it is hot */
	uint64_t *touched = calloc((r->nr_pages + 63) / 64, 8);

	if (touched && rwp_track_touched(r, touched)) {
		free(touched);
		touched = NULL;
	}
	/* the budget counts 4 KiB pages: a huge page never takes more than is left */
	const uint64_t units = r->page_size / PAGE_4K;

	for (uint64_t pg = 0; pg < r->nr_pages && p->budget >= units; pg++) {
		ps_t s = ps_load(&r->state[pg]);
		uint8_t a = age_byte(r, pg);

		if (ps_kind(s) != PS_RESIDENT)
			continue;
		if (touched && (touched[pg / 64] & (1ULL << (pg % 64)))) {
			p->res->kept++;
			continue;
		}
		if ((s & PS_PREFETCHED) && !(a & AGE_MASK)) {
			/* prefetched and then used */
			if (atomic_compare_exchange_strong(&r->state[pg], &s, s & ~PS_PREFETCHED))
				atomic_fetch_add(&r->ctx->cnt.prefetch_hits, 1);
			continue;
		}
		/* touched since the tick, as far as the fault thread saw */
		if (r->ops->ages_from_faults && (a & AGE_WRITTEN))
			continue;
		if ((a & AGE_MASK) < p->min_age)
			continue;
		if (take(p, r, pg, s))
			p->budget -= units;
	}
	if (b->n)
		capture_commit(p->e, b, p->res);
	free(touched);
}

static bool evictable(const struct rwp_region *r, unsigned int flags)
{
	if (!r->state || !r->capture || atomic_load(&r->gone))
		return false;
	return (r->sees & RWP_SEES_READS) || (flags & RWP_POLICY_WRITE_TRACKED);
}

/*
 * The idle threshold: at least the policy's, and, with a target, the oldest pages first
 * until enough would go.
 */
static unsigned int threshold(struct rwp_ctx *ctx, unsigned int min_age, uint64_t need,
			      unsigned int flags)
{
	uint64_t hist[RWP_AGE_MAX + 1] = { 0 }, sum = 0;

	if (!need)
		return min_age;
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];

		if (!evictable(r, flags))
			continue;
		for (uint64_t pg = 0; pg < r->nr_pages; pg++)
			if (ps_kind(ps_load(&r->state[pg])) == PS_RESIDENT)
				hist[age_byte(r, pg) & AGE_MASK] += r->page_size / PAGE_4K;
	}
	for (unsigned int t = RWP_AGE_MAX; t > min_age; t--) {
		sum += hist[t];
		if (sum * PAGE_4K >= need)
			return t;
	}
	return min_age;
}

static uint64_t resident_bytes(struct rwp_ctx *ctx)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];

		if (!atomic_load(&r->gone))
			bytes += (r->nr_pages - atomic_load(&r->nonresident)) * r->page_size;
	}
	return bytes;
}

/* Native hugetlbfs is captured in sync mode: accesses to protected pages then block. */
static int freeze(struct rwp_evictor *e, bool on)
{
	struct rwp_ctx *ctx = e->ctx;
	int ret;

	if (e->frozen == on)
		return 0;
	ret = on ? rwp_uffd_set_mode(ctx->uffd, 0, UFFD_FEATURE_RWP_ASYNC)
		 : rwp_uffd_set_mode(ctx->uffd, UFFD_FEATURE_RWP_ASYNC, 0);
	if (ret)
		return rwp_err(ctx, -ret, "UFFDIO_SET_MODE(%s): %d", on ? "sync" : "async", ret);
	e->frozen = on;
	return 0;
}

static bool needs_freeze(const struct rwp_region *r)
{
	return r->capture == &rwp_capture_hold && r->ops->id == RWP_BACKEND_NATIVE;
}

/* A pass needs somewhere to put pages, and the evictor's staging area. */
static int pass_begin(struct rwp_ctx *ctx, struct pass *p, struct rwp_evict_result *res)
{
	if (!ctx->nr_tiers)
		return rwp_err(ctx, ENODEV, "evict: no storage tier attached");
	p->res = res;
	return rwp_evictor_get(ctx, &p->e);
}

RWP_EXPORT int rwp_evict(struct rwp_ctx *ctx, const struct rwp_policy *policy,
			 struct rwp_evict_result *res)
{
	struct rwp_evict_result dummy;
	struct rwp_evictor *e;
	struct pass p = { 0 };
	uint64_t t0 = rwp_now_ns(), target, resident;
	unsigned int flags;
	int ret;

	if (!ctx || !OPTS_VALID(policy, rwp_policy))
		return -EINVAL;
	res = res ?: &dummy;
	memset(res, 0, sizeof(*res));
	flags = OPTS_GET(policy, flags, 0);
	pthread_mutex_lock(&ctx->track_lock);
	pthread_rwlock_rdlock(&ctx->regions_lock);
	ret = pass_begin(ctx, &p, res);
	if (ret)
		goto out;
	e = p.e;
	p.min_age = rwp_policy_min_idle(ctx, policy);
	target = OPTS_GET(policy, target_resident, 0);
	resident = resident_bytes(ctx);
	p.budget = OPTS_GET(policy, max_evict, 0) ?: UINT64_MAX;
	if (target) {
		uint64_t need = resident > target ? resident - target : 0;

		p.min_age = threshold(ctx, p.min_age, need, flags);
		if (need / PAGE_4K < p.budget)
			p.budget = need / PAGE_4K;
	}
	res->min_idle = p.min_age;
	for (size_t i = 0; i < ctx->nr_regions && p.budget; i++) {
		struct rwp_region *r = ctx->regions[i];

		if (!evictable(r, flags))
			continue;
		if (needs_freeze(r) && (ret = freeze(e, true)))
			break;
		pass_region(&p, r);
	}
	if (!ret)
		rwp_demote(e, res);
	if (e->frozen) {
		int err = freeze(e, false);

		ret = ret ?: err;
	}
out:
	pthread_rwlock_unlock(&ctx->regions_lock);
	pthread_mutex_unlock(&ctx->track_lock);
	res->ns = rwp_now_ns() - t0;
	return ret;
}

RWP_EXPORT int rwp_evict_range(struct rwp_region *r, uint64_t first, uint64_t n,
			       struct rwp_evict_result *res)
{
	struct rwp_evict_result dummy;
	struct rwp_ctx *ctx;
	struct rwp_evictor *e;
	struct pass p = { .budget = UINT64_MAX };
	uint64_t t0 = rwp_now_ns();
	int ret;

	if (!r || first > r->nr_pages || n > r->nr_pages - first)
		return -EINVAL;
	ctx = r->ctx;
	if (!r->state || !r->capture)
		return rwp_err(ctx, EINVAL, "region %s is not evictable", r->name);
	res = res ?: &dummy;
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&ctx->track_lock);
	ret = pass_begin(ctx, &p, res);
	if (ret)
		goto out;
	e = p.e;
	if (needs_freeze(r) && (ret = freeze(e, true)))
		goto out;
	for (uint64_t pg = first; pg < first + n; pg++) {
		ps_t s = ps_load(&r->state[pg]);

		if (ps_kind(s) == PS_RESIDENT)
			take(&p, r, pg, s);
	}
	if (e->batch.n)
		capture_commit(e, &e->batch, res);
	if (e->frozen)
		ret = freeze(e, false);
out:
	pthread_mutex_unlock(&ctx->track_lock);
	res->ns = rwp_now_ns() - t0;
	return ret;
}
