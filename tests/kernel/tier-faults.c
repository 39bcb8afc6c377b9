// SPDX-License-Identifier: MIT
/*
 * Tier failures never cost data: a store that fails (EIO, ENOSPC) leaves the page resident
 * and intact; a load that fails a few times is retried and then succeeds; a load that
 * keeps failing ends, after the retries, in a poisoned page (SIGBUS for the thread that
 * touches it), never in wrong data.
 */
#define _GNU_SOURCE
#include "../lib/guestmem.h"
#include "../lib/pattern.h"
#include "../lib/tap.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>

TAP_DEFINE;

#define PAGES 256

static struct guestmem g;

static bool page_ok(size_t pg)
{
	uint64_t v;

	return pattern_check(g.base + pg * 4096, pg, &v) && v == 1;
}

static uint64_t blocks(void)
{
	struct stat st;

	fstat(g.fd, &st);
	return st.st_blocks;
}

static int setup(enum rwp_backend b, struct rwp_ctx **ctx, struct rwp_region **r,
		 struct rwp_tier **t)
{
	const char *why;
	int ret;

	ret = guestmem_map(&g, RWP_MEM_SHMEM, PAGES * 4096, &why);
	if (ret)
		return ret;
	for (size_t pg = 0; pg < PAGES; pg++)
		pattern_fill(g.base + pg * 4096, pg, 1);
	ret = test_ctx_new(0, ctx);
	if (!ret)
		ret = guestmem_register(*ctx, &g, b, RWP_REGION_EVICTABLE, r);
	if (!ret)
		ret = rwp_tier_zram_new(NULL, t);
	if (!ret)
		ret = rwp_tier_attach(*ctx, *t, 0);
	if (!ret)
		ret = rwp_track_start(*ctx);
	return ret;
}

static void teardown(struct rwp_ctx *ctx)
{
	rwp_ctx_free(ctx);
	guestmem_unmap(&g);
}

static void store_failure(enum rwp_backend b, int err)
{
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r;
	struct rwp_tier *t;
	struct rwp_evict_result res;
	uint64_t before;
	bool ok = false;

	CHECK(!setup(b, &ctx, &r, &t), out, "setup: %s", rwp_ctx_last_error(ctx));
	before = blocks();
	/* the first 100 stores fail, the rest succeed */
	__rwp_tier_inject(t, false, err, 100);
	CHECK(!rwp_evict_range(r, 0, PAGES, &res), out, "evict: %s", rwp_ctx_last_error(ctx));
	tap_diag("%s: %llu evicted, %llu kept, %llu failed", strerror(err),
		 (unsigned long long)res.evicted, (unsigned long long)res.kept,
		 (unsigned long long)res.failed);
	CHECK(res.evicted == PAGES - 100 && res.kept == 100, out, "split");
	/* the kernel still holds exactly the pages that could not be stored */
	CHECK(blocks() == before * 100 / PAGES, out, "memfd blocks %llu, want %llu",
	      (unsigned long long)blocks(), (unsigned long long)before * 100 / PAGES);
	for (size_t pg = 0; pg < PAGES; pg++)
		CHECK(page_ok(pg), out, "page %zu", pg);
	ok = true;
out:
	tap_ok(ok, "%s: a store failing with %s leaves the page resident and intact",
	       rwp_backend_name(b), strerror(err));
	teardown(ctx);
}

static void load_transient(enum rwp_backend b)
{
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r;
	struct rwp_tier *t;
	struct rwp_evict_result res;
	struct rwp_stats st;
	bool ok = false;

	CHECK(!setup(b, &ctx, &r, &t), out, "setup");
	CHECK(!rwp_evict_range(r, 0, PAGES, &res) && res.evicted == PAGES, out, "evict");
	__rwp_tier_inject(t, true, EIO, 3);
	for (size_t pg = 0; pg < PAGES; pg++)
		CHECK(page_ok(pg), out, "page %zu", pg);
	rwp_stats(ctx, &st);
	CHECK(st.fetch_errors >= 1 && st.poisoned == 0, out, "errors %llu poisoned %llu",
	      (unsigned long long)st.fetch_errors, (unsigned long long)st.poisoned);
	ok = true;
out:
	tap_ok(ok, "%s: a load failing 3 times is retried and the page comes back intact",
	       rwp_backend_name(b));
	teardown(ctx);
}

static sigjmp_buf jb;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

static void *toucher(void *arg)
{
	volatile uint64_t *p = arg;
	struct sigaction sa = { .sa_handler = on_sigbus };
	uint64_t got = 0;

	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(jb, 1))
		return (void *)1; /* SIGBUS */
	got = *p;
	return got ? (void *)2 : (void *)3;
}

static void load_permanent(enum rwp_backend b)
{
	RWP_OPTS(rwp_fetch_opts, fo, .retries = 3, .timeout_ms = 2000, .no_prefetch = true);
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r;
	struct rwp_tier *t;
	struct rwp_evict_result res;
	struct rwp_stats st;
	pthread_t th;
	void *how = NULL;
	bool ok = false;

	CHECK(!setup(b, &ctx, &r, &t), out, "setup");
	CHECK(!rwp_fetch_configure(ctx, &fo), out, "configure");
	CHECK(!rwp_evict_range(r, 7, 1, &res) && res.evicted == 1, out, "evict");
	__rwp_tier_inject(t, true, EIO, 1000);
	pthread_create(&th, NULL, toucher, g.base + 7 * 4096);
	pthread_join(th, &how);
	CHECK(how == (void *)1, out, "the touch %s", how == (void *)2 ? "returned data" : "returned zero");
	rwp_stats(ctx, &st);
	CHECK(st.poisoned == 1, out, "poisoned %llu", (unsigned long long)st.poisoned);
	/* the other pages are fine */
	__rwp_tier_inject(t, true, 0, 0);
	for (size_t pg = 0; pg < PAGES; pg++)
		CHECK(pg == 7 || page_ok(pg), out, "page %zu", pg);
	ok = true;
out:
	tap_ok(ok, "%s: a load that keeps failing ends in SIGBUS (poisoned), never wrong data",
	       rwp_backend_name(b));
	teardown(ctx);
}

int main(void)
{
	static const enum rwp_backend backends[] = { RWP_BACKEND_NATIVE, RWP_BACKEND_WP_ASYNC,
						     RWP_BACKEND_MINOR };

	tap_init();
	for (size_t i = 0; i < 3; i++) {
		const char *why;

		if (!backend_selected(backends[i]))
			continue;
		if (!backend_available(backends[i], RWP_MEM_SHMEM, &why)) {
			tap_skip(rwp_backend_name(backends[i]), "%s", why);
			continue;
		}
		store_failure(backends[i], EIO);
		store_failure(backends[i], ENOSPC);
		load_transient(backends[i]);
		load_permanent(backends[i]);
	}
	return tap_done();
}
