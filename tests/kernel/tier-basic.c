// SPDX-License-Identifier: MIT
/*
 * Eviction and fetch, one step at a time, on every memory type x backend the kernel
 * offers: evicted pages leave the guest (measured from the kernel), come back bit-exact
 * on read and on write, zero pages cost no storage, the policy keeps hot pages, and
 * freeing the context brings everything home.
 */
#define _GNU_SOURCE
#include "../lib/combos.h"
#include "../lib/guestmem.h"
#include "../lib/pattern.h"
#include "../lib/tap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

TAP_DEFINE;

static const struct combo cases[] = {
	{ RWP_MEM_SHMEM, RWP_BACKEND_NATIVE },	 { RWP_MEM_HUGETLB, RWP_BACKEND_NATIVE },
	{ RWP_MEM_ANON, RWP_BACKEND_NATIVE },	 { RWP_MEM_SHMEM, RWP_BACKEND_WP_ASYNC },
	{ RWP_MEM_SHMEM, RWP_BACKEND_MINOR },	 { RWP_MEM_HUGETLB, RWP_BACKEND_MINOR },
	{ RWP_MEM_ANON, RWP_BACKEND_WP_ASYNC },
};

#define SUB_PER_PAGE(g) ((g)->page_size / 4096)

/* Resident bytes as the kernel counts them. */
static uint64_t resident(struct guestmem *g)
{
	struct stat st;
	unsigned char *vec;
	uint64_t n = 0;

	if (g->fd >= 0) {
		fstat(g->fd, &st);
		return (uint64_t)st.st_blocks * 512;
	}
	vec = calloc(g->len / 4096, 1);
	mincore(g->base, g->len, vec);
	for (size_t i = 0; i < g->len / 4096; i++)
		n += vec[i] & 1;
	free(vec);
	return n * 4096;
}

static void fill(struct guestmem *g, uint64_t pg, uint64_t version)
{
	for (size_t s = 0; s < SUB_PER_PAGE(g); s++) {
		uint64_t sub = pg * SUB_PER_PAGE(g) + s;

		pattern_fill(g->base + sub * 4096, sub, version);
	}
}

static bool check(struct guestmem *g, uint64_t pg, uint64_t version)
{
	for (size_t s = 0; s < SUB_PER_PAGE(g); s++) {
		uint64_t sub = pg * SUB_PER_PAGE(g) + s, v;

		if (!pattern_check(g->base + sub * 4096, sub, &v) || v != version)
			return false;
	}
	return true;
}

static bool is_zero(struct guestmem *g, uint64_t pg)
{
	const uint64_t *w = (const uint64_t *)(g->base + pg * g->page_size);

	for (size_t i = 0; i < g->page_size / 8; i++)
		if (w[i])
			return false;
	return true;
}

static unsigned int info_sees(struct rwp_region *r)
{
	struct rwp_region_info info;

	rwp_region_info(r, &info);
	return info.sees;
}

static void run_case(const struct combo *tc)
{
	char name[96];
	struct guestmem g;
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r = NULL;
	struct rwp_tier *t = NULL;
	struct rwp_evict_result res;
	struct rwp_stats st;
	bool ok = false;
	size_t n, half;
	uint64_t before, after;

	snprintf(name, sizeof(name), "%s/%s: evict, fetch on read and write, policy, drain",
		 rwp_mem_name(tc->mem), rwp_backend_name(tc->backend));
	if (!guestmem_map_or_skip(&g, tc->mem, tc->backend, 64UL << 20, name))
		return;
	n = g.nr_pages;
	half = n / 2;
	/* pages 0..half-1 patterned, the odd ones among the rest zero, the even ones patterned */
	for (size_t pg = 0; pg < n; pg++) {
		if (pg < half || pg % 2 == 0)
			fill(&g, pg, 1);
		else
			memset(g.base + pg * g.page_size, 0, g.page_size);
	}
	CHECK(!test_ctx_new(0, &ctx), out, "context");
	CHECK(!guestmem_register(ctx, &g, tc->backend, RWP_REGION_EVICTABLE, &r), out,
	      "register: %s", rwp_ctx_last_error(ctx));
	CHECK(!rwp_tier_zram_new(NULL, &t), out, "zram tier");
	CHECK(!rwp_tier_attach(ctx, t, 0), out, "attach");
	t = NULL;
	CHECK(!rwp_track_start(ctx), out, "start: %s", rwp_ctx_last_error(ctx));

	/* evict everything explicitly */
	before = resident(&g);
	CHECK(!rwp_evict_range(r, 0, n, &res), out, "evict_range: %s", rwp_ctx_last_error(ctx));
	after = resident(&g);
	tap_diag("evicted %llu of %zu pages (%llu zero), resident %llu -> %llu KiB",
		 (unsigned long long)res.evicted, n, (unsigned long long)res.zero,
		 (unsigned long long)before >> 10, (unsigned long long)after >> 10);
	CHECK(res.evicted == n && res.failed == 0, out, "every page evicted");
	CHECK(res.zero == (n - half) / 2, out, "zero pages found: %llu",
	      (unsigned long long)res.zero);
	CHECK(after <= before / 20, out, "the kernel says the memory left");
	CHECK(!rwp_stats(ctx, &st), out, "stats");
	CHECK(st.evicted_pages * 4096 == g.len && st.zero_pages * 4096 == (n - half) / 2 * g.page_size,
	      out, "stats: %llu evicted, %llu zero", (unsigned long long)st.evicted_pages,
	      (unsigned long long)st.zero_pages);

	/* reads bring pages back bit-exact; zero pages come back as zeros */
	for (size_t pg = 0; pg < n; pg++) {
		bool good = (pg < half || pg % 2 == 0) ? check(&g, pg, 1) : is_zero(&g, pg);

		CHECK(good, out, "page %zu wrong after fetch", pg);
	}
	CHECK(!rwp_stats(ctx, &st) && st.evicted_pages == 0, out, "all back: %llu left",
	      (unsigned long long)st.evicted_pages);

	/* evict again, then write first: the write lands on the fetched page */
	CHECK(!rwp_evict_range(r, 0, half, &res) && res.evicted == half, out, "evict half");
	for (size_t pg = 0; pg < half; pg += 3)
		fill(&g, pg, 2);
	for (size_t pg = 0; pg < half; pg++)
		CHECK(check(&g, pg, pg % 3 ? 1 : 2), out, "page %zu after write-fetch", pg);

	/*
	 * policy: after ticks in which only the first quarter was touched (written, so that
	 * write-only tracking sees it too), the rest goes; a region whose reads are unseen is
	 * left alone unless the policy allows it.
	 */
	for (int i = 0; i < 2; i++) {
		for (size_t pg = 0; pg < n / 4; pg++) {
			volatile uint64_t *w = (uint64_t *)(g.base + pg * g.page_size + 4088);

			*w = *w;
		}
		CHECK(rwp_track_tick(ctx) >= 0, out, "tick");
	}
	RWP_OPTS(rwp_policy, pol, .min_idle = 1);
	CHECK(!rwp_evict(ctx, &pol, &res), out, "evict: %s", rwp_ctx_last_error(ctx));
	if (!(info_sees(r) & RWP_SEES_READS)) {
		CHECK(res.evicted == 0, out, "evicted %llu pages of a region whose reads are unseen",
		      (unsigned long long)res.evicted);
		pol.flags = RWP_POLICY_WRITE_TRACKED;
		CHECK(!rwp_evict(ctx, &pol, &res), out, "evict: %s", rwp_ctx_last_error(ctx));
	}
	tap_diag("policy evicted %llu pages with min_idle %u", (unsigned long long)res.evicted,
		 res.min_idle);
	CHECK(res.evicted == n - n / 4, out, "policy evicted %llu, want %zu",
	      (unsigned long long)res.evicted, n - n / 4);
	ok = true;
out:
	/* freeing the context brings every page home */
	rwp_tier_free(t);
	rwp_ctx_free(ctx);
	if (ok) {
		for (size_t pg = 0; pg < n && ok; pg++) {
			uint64_t want = pg < half ? (pg % 3 ? 1 : 2) : 1;

			ok = (pg < half || pg % 2 == 0) ? check(&g, pg, want) : is_zero(&g, pg);
			if (!ok)
				tap_diag("page %zu wrong after the context was freed", pg);
		}
	}
	tap_ok(ok, "%s", name);
	guestmem_unmap(&g);
}

int main(void)
{
	tap_init();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (backend_selected(cases[i].backend))
			run_case(&cases[i]);
	return tap_done();
}
