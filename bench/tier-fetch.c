// SPDX-License-Identifier: MIT
/*
 * Part a: fetch latency as the faulting thread sees it. A fixed set of pages (10% of the
 * region in runs of 8 for 4 KiB pages; half the pages, scattered, for hugetlbfs) is
 * evicted to a tier; the toucher then reads one word of each, in address order, with the
 * clock read before and after each access. The floor is the same touching loop over an
 * identical region whose same pages were punched out, served by a minimal MISSING handler
 * (tier-raw.c) pinned the same way. Before each touch mincore() says whether the page is
 * still out (prefetch may have brought it in); only those touches are faults.
 */
#define _GNU_SOURCE
#include "tier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct touch_out {
	struct lat faults; /* touches of pages that were out */
	struct lat all;	   /* every touch */
};

/* Touch every page of h once, in address order, timing each access. */
static void touch(const struct guestmem *g, const struct hotset *h, struct touch_out *t)
{
	static volatile uint64_t sink;

	for (size_t i = 0; i < h->n; i++) {
		const uint8_t *p = g->base + h->pages[i] * g->page_size;
		bool out = !page_in_core(p, g->page_size);
		uint64_t t0 = now_ns(), t1;

		sink += *(volatile const uint64_t *)(p + (h->pages[i] * 64) % PAGE);
		t1 = now_ns();
		if (out)
			lat_add(&t->faults, t1 - t0);
		lat_add(&t->all, t1 - t0);
	}
}

static int punch_fn(void *arg, uint64_t first, uint64_t n)
{
	return punch_pages(arg, first, n);
}

/* The raw MISSING + UFFDIO_COPY round trip over h, handler on hcpu; samples into t. */
static int raw_round_trip(const struct tier_opts *o, enum rwp_mem mem, const struct hotset *h,
			  int hcpu, struct touch_out *t, char *why, size_t wn)
{
	struct guestmem g;
	struct rawmiss x;
	const char *w = NULL;
	int ret;

	if ((ret = map_filled(&g, mem, o->mb, C_HEAP, &w))) {
		snprintf(why, wn, "%s", w ? w : strerror(-ret));
		return ret;
	}
	ret = rawmiss_open(&x, &g, hcpu);
	if (!ret) {
		ret = each_run(h, punch_fn, &g);
		if (!ret)
			touch(&g, h, t);
		if (x.err)
			ret = -x.err;
		rawmiss_close(&x);
	}
	if (ret)
		snprintf(why, wn, "raw round trip: %s", strerror(-ret));
	guestmem_unmap(&g);
	return ret;
}

struct cfg {
	enum rwp_mem mem;
	enum rwp_backend b;
	bool same, prefetch;
	const char *tier;
};

/* One librwp row: evict h to the tier, touch it back, compare with the raw samples. */
static void lib_row(const struct tier_opts *o, const struct cfg *c, const struct hotset *h,
		    struct fetch_row *row)
{
	RWP_OPTS(rwp_ctx_opts, co, .flags = RWP_CTX_PIN_HANDLER,
		 .handler_cpu = c->same ? o->cpu_a : o->cpu_b);
	RWP_OPTS(rwp_fetch_opts, fo, .no_prefetch = !c->prefetch);
	struct touch_out t = { 0 };
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r;
	struct rwp_tier *tier = NULL;
	struct rwp_stats st;
	struct guestmem g;
	const char *w = NULL;
	int ret;

	if ((ret = map_filled(&g, c->mem, o->mb, C_HEAP, &w))) {
		snprintf(row->why, sizeof(row->why), "%s", w ? w : strerror(-ret));
		return;
	}
	w = "context";
	if ((ret = rwp_ctx_new(&co, &ctx)))
		goto out;
	w = "register";
	if ((ret = guestmem_register(ctx, &g, c->b, RWP_REGION_EVICTABLE, &r)))
		goto out;
	w = "tier";
	if ((ret = tier_make(o, c->tier, &tier)) || (ret = rwp_tier_attach(ctx, tier, 0)))
		goto out;
	tier = NULL;
	w = "fetch options";
	if ((ret = rwp_fetch_configure(ctx, &fo)))
		goto out;
	w = "track start";
	if ((ret = rwp_track_start(ctx)))
		goto out;
	w = "evict";
	if ((ret = evict_set(r, h)))
		goto out;
	touch(&g, h, &t);
	rwp_stats(ctx, &st);
	row->lib = st.fault_latency;
	row->prefetched = st.prefetched;
	row->touches = t.all.n;
	row->faults = t.faults.n;
	row->p50 = lat_pct(&t.faults, 0.50);
	row->p90 = lat_pct(&t.faults, 0.90);
	row->p99 = lat_pct(&t.faults, 0.99);
	row->mean_touch = lat_mean(&t.all);
	row->intact = content_intact(C_HEAP, &g, h);
	row->ok = true;
out:
	if (ret)
		snprintf(row->why, sizeof(row->why), "%s: %s: %s", w, strerror(-ret),
			 ctx ? rwp_ctx_last_error(ctx) : "");
	rwp_tier_free(tier);
	rwp_ctx_free(ctx);
	guestmem_unmap(&g);
	lat_free(&t.faults);
	lat_free(&t.all);
}

/* Can the machine map the region (huge pages reserved)? A skip, not a failure, if not. */
static bool mappable(const struct tier_opts *o, enum rwp_mem mem)
{
	struct guestmem g;
	const char *why = NULL;
	int ret = guestmem_map(&g, mem, o->mb << 20, &why);

	if (ret) {
		printf("  [a] %s rows skipped: %s\n", rwp_mem_name(mem), why ? why : strerror(-ret));
		return false;
	}
	guestmem_unmap(&g);
	return true;
}

static const enum rwp_backend fetch_backends[] = { RWP_BACKEND_NATIVE, RWP_BACKEND_WP_ASYNC,
						   RWP_BACKEND_MINOR };

size_t tier_fetch_run(const struct tier_opts *o, struct fetch_row *v, size_t n, bool *failed)
{
	const enum rwp_mem mems[] = { RWP_MEM_SHMEM, RWP_MEM_HUGETLB };
	size_t k = 0;

	pin_self(o->cpu_a);
	for (size_t m = 0; m < 2; m++) {
		enum rwp_mem mem = mems[m];
		bool huge = mem == RWP_MEM_HUGETLB;
		size_t nr_pages = (o->mb << 20) / (huge ? 2UL << 20 : PAGE);
		struct touch_out raw[2] = { 0 };
		char rawwhy[2][160] = { "", "" };
		struct cfg cfgs[32];
		size_t nc = 0;
		struct hotset h;

		if ((huge && !o->hugetlb) || !mappable(o, mem))
			continue;
		/* 4 KiB: 10% in runs of 8 (prefetch has neighbours); 2 MiB: half, scattered */
		if (hotset_make(&h, nr_pages, huge ? 0.5 : 0.1, huge ? 1 : 8, 7 + m)) {
			*failed = true;
			return k;
		}
		for (size_t b = 0; b < sizeof(fetch_backends) / sizeof(fetch_backends[0]); b++) {
			const char *why;

			if (!backend_available(fetch_backends[b], mem, &why))
				continue;
			if (huge && fetch_backends[b] == RWP_BACKEND_WP_ASYNC)
				continue; /* no capture for hugetlbfs on wp-async (evict.h) */
			for (int same = 1; same >= 0; same--)
				for (int pf = 0; pf <= (huge ? 0 : 1); pf++)
					cfgs[nc++] = (struct cfg){ mem, fetch_backends[b], same, pf,
								   "zram-lz4" };
			/* the other tiers, for the goal's pinning, without prefetch */
			if (fetch_backends[b] != RWP_BACKEND_MINOR || huge) {
				if (!huge)
					cfgs[nc++] = (struct cfg){ mem, fetch_backends[b], 1, 0,
								   "zram-zstd" };
				cfgs[nc++] = (struct cfg){ mem, fetch_backends[b], 1, 0, "file" };
			}
		}
		/* the floors first and again last, pooled: drift shows in neither alone */
		for (int same = 1; same >= 0; same--)
			if (raw_round_trip(o, mem, &h, same ? o->cpu_a : o->cpu_b, &raw[same],
					   rawwhy[same], sizeof(rawwhy[same])))
				*failed = true;
		for (size_t i = 0; i < nc && k < n; i++) {
			struct fetch_row *row = &v[k++];
			const struct cfg *c = &cfgs[i];

			memset(row, 0, sizeof(*row));
			snprintf(row->backend, sizeof(row->backend), "%s", rwp_backend_name(c->b));
			snprintf(row->mem, sizeof(row->mem), "%s", rwp_mem_name(mem));
			snprintf(row->tier, sizeof(row->tier), "%s", c->tier);
			row->same_cpu = c->same;
			row->prefetch = c->prefetch;
			lib_row(o, c, &h, row);
			if (!row->ok || !row->intact)
				*failed = true;
			printf("  [a] %s/%s %s %s prefetch %s: %s\n", row->backend, row->mem, row->tier,
			       c->same ? "same CPU" : "cross CPU", c->prefetch ? "on" : "off",
			       row->ok ? "done" : row->why);
		}
		for (int same = 1; same >= 0; same--)
			raw_round_trip(o, mem, &h, same ? o->cpu_a : o->cpu_b, &raw[same],
				       rawwhy[same], sizeof(rawwhy[same]));
		for (size_t i = k - (nc < k ? nc : k); i < k; i++) {
			struct touch_out *t = &raw[v[i].same_cpu];

			v[i].raw_p50 = lat_pct(&t->faults, 0.50);
			v[i].raw_p99 = lat_pct(&t->faults, 0.99);
			v[i].raw_mean = lat_mean(&t->all);
		}
		for (int same = 0; same < 2; same++) {
			if (rawwhy[same][0])
				printf("  [a] raw %s %s: %s\n", rwp_mem_name(mem),
				       same ? "same CPU" : "cross CPU", rawwhy[same]);
			lat_free(&raw[same].faults);
			lat_free(&raw[same].all);
		}
		hotset_free(&h);
	}
	return k;
}
