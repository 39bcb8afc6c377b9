// SPDX-License-Identifier: MIT
/* rwp_stats(): a snapshot of where pages are and what fetching costs. */
#include "../fetch/fetch.h"
#include "../opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void count_pages(struct rwp_ctx *ctx, struct rwp_stats *st, uint64_t *wss)
{
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];

		if (atomic_load(&r->gone))
			continue;
		st->guest_bytes += r->len;
		st->resident_bytes += (r->nr_pages - LOAD(r->nonresident)) * r->page_size;
		st->evicted_pages += LOAD(r->nonresident) * (r->page_size / PAGE_4K);
		*wss += rwp_ages_wss(r, 1) * (r->page_size / PAGE_4K);
		if (!r->state)
			continue;
		for (uint64_t pg = 0; pg < r->nr_pages; pg++)
			if (ps_kind(ps_load(&r->state[pg])) == PS_ZERO)
				st->zero_pages += r->page_size / PAGE_4K;
	}
}

RWP_EXPORT int rwp_stats(struct rwp_ctx *ctx, struct rwp_stats *st)
{
	uint64_t wss = 0, tier_ram = 0;

	if (!ctx || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&ctx->track_lock);
	pthread_rwlock_rdlock(&ctx->regions_lock);
	count_pages(ctx, st, &wss);
	st->nr_tiers = ctx->nr_tiers;
	for (unsigned int t = 0; t < ctx->nr_tiers; t++) {
		struct rwp_tier *tier = ctx->tiers[t];
		struct rwp_tier_stats *ts = &st->tier[t];

		snprintf(ts->name, sizeof(ts->name), "%s", tier->name);
		ts->pages = tier->pages;
		ts->bytes = tier->bytes;
		ts->used_bytes = tier->ops->used_bytes(tier);
		ts->stores = tier->stores;
		ts->loads = tier->loads;
		ts->errors = tier->errors;
		/* memory-backed tiers cost RAM; files and remote storage do not */
		if (tier->ops->in_ram)
			tier_ram += ts->used_bytes;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	pthread_mutex_unlock(&ctx->track_lock);
	st->saved_bytes = (int64_t)(st->guest_bytes - st->resident_bytes) - (int64_t)tier_ram;

	st->faults_missing = LOAD(ctx->cnt.faults_missing);
	st->faults_minor = LOAD(ctx->cnt.faults_minor);
	st->faults_rwp = LOAD(ctx->cnt.faults_rwp);
	st->faults_held = LOAD(ctx->cnt.faults_held);
	st->fetched = LOAD(ctx->cnt.fetched);
	st->fetched_zero = LOAD(ctx->cnt.fetched_zero);
	st->prefetched = LOAD(ctx->cnt.prefetched);
	st->prefetch_hits = LOAD(ctx->cnt.prefetch_hits);
	st->prefetch_waste = LOAD(ctx->cnt.prefetch_waste);
	st->evicted_total = LOAD(ctx->cnt.evicted_total);
	st->evict_failures = LOAD(ctx->cnt.evict_failures);
	st->fetch_errors = LOAD(ctx->cnt.fetch_errors);
	st->poisoned = LOAD(ctx->cnt.poisoned);
	st->refault_rate = (double)rwp_refaults_last_minute(ctx) / (double)(wss ? wss : 1);
	rwp_latency_get(ctx->latency, &st->fault_latency);
	return 0;
}
