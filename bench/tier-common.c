// SPDX-License-Identifier: MIT
/* What the parts of rwp-bench-tier share: tiers by name, filled regions, runs, checks. */
#define _GNU_SOURCE
#include "tier.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tier_make(const struct tier_opts *o, const char *kind, struct rwp_tier **t)
{
	if (!strcmp(kind, "file")) {
		RWP_OPTS(rwp_tier_file_opts, fo, .path = o->file_path);

		unlink(o->file_path); /* the last row's, gone with its context */
		return rwp_tier_file_new(&fo, t);
	}
	RWP_OPTS(rwp_tier_zram_opts, zo,
		 .codec = !strcmp(kind, "zram-zstd") ? RWP_CODEC_ZSTD : RWP_CODEC_LZ4);
	return rwp_tier_zram_new(&zo, t);
}

int map_filled(struct guestmem *g, enum rwp_mem mem, size_t mb, enum content c,
	       const char **why)
{
	int ret = guestmem_map(g, mem, mb << 20, why);

	if (!ret)
		content_fill(c, 0, g->base, g->len);
	return ret;
}

int each_run(const struct hotset *h, int (*fn)(void *arg, uint64_t first, uint64_t n),
	     void *arg)
{
	for (size_t i = 0, j; i < h->n; i = j) {
		int ret;

		for (j = i + 1; j < h->n && h->pages[j] == h->pages[j - 1] + 1; j++)
			;
		ret = fn(arg, h->pages[i], j - i);
		if (ret)
			return ret;
	}
	return 0;
}

static int evict_fn(void *arg, uint64_t first, uint64_t n)
{
	struct rwp_evict_result res;
	int ret = rwp_evict_range(arg, first, n, &res);

	if (ret)
		return ret;
	/* a page left resident would be measured as a hit, not a fetch */
	return res.evicted == n ? 0 : -EAGAIN;
}

int evict_set(struct rwp_region *r, const struct hotset *h)
{
	return each_run(h, evict_fn, r);
}

static int count_fn(void *arg, uint64_t first, uint64_t n)
{
	(void)first, (void)n;
	++*(size_t *)arg;
	return 0;
}

size_t count_runs(const struct hotset *h)
{
	size_t n = 0;

	each_run(h, count_fn, &n);
	return n;
}

/* Page pg of g (in g's page size) holds content c, 4 KiB by 4 KiB. */
static bool page_intact(enum content c, const struct guestmem *g, uint64_t pg)
{
	uint8_t want[PAGE];

	for (size_t off = 0; off < g->page_size; off += PAGE) {
		uint64_t sub = (pg * g->page_size + off) / PAGE;

		content_page(c, sub, want);
		if (memcmp(g->base + sub * PAGE, want, PAGE))
			return false;
	}
	return true;
}

bool content_intact(enum content c, const struct guestmem *g, const struct hotset *h)
{
	size_t n = h ? h->n : g->nr_pages;

	for (size_t i = 0; i < n; i++)
		if (!page_intact(c, g, h ? h->pages[i] : i))
			return false;
	return true;
}

uint64_t touch_read(const struct guestmem *g, const struct hotset *h)
{
	static volatile uint64_t sink;
	uint64_t t0 = now_ns();

	for (size_t i = 0; i < h->n; i++)
		sink += *(volatile const uint64_t *)(g->base + h->pages[i] * g->page_size);
	return now_ns() - t0;
}

void why_step(char *why, size_t n, const char *step, int err)
{
	char detail[160];
	int k;

	/* the library's own message, if any, goes after the step and the error */
	snprintf(detail, sizeof(detail), "%s", why);
	k = snprintf(why, n, "%s: %s", step, strerror(-err));
	if (detail[0] && k > 0 && (size_t)k < n)
		snprintf(why + k, n - k, ": %s", detail);
}
