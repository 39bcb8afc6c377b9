// SPDX-License-Identifier: MIT
/*
 * Torture: worker threads read, write and verify checksummed pages of a 1 GiB guest while
 * the main thread ticks and evicts with an aggressive policy every 50 ms. Each worker owns
 * every Nth 4 KiB page and knows the version each of its pages must hold, so a page lost,
 * zeroed, stale or mixed up is caught on its next read. At the end every page is checked.
 * Passes only with no bad page after at least 10^5 evictions and 10^5 fetches (4 KiB
 * pages; a huge page counts as 512; a fetch is a page brought back from a tier, on a fault
 * or with one as a prefetched neighbour) over at least 60 intervals.
 */
#define _GNU_SOURCE
#include "../lib/combos.h"
#include "../lib/guestmem.h"
#include "../lib/pattern.h"
#include "../lib/tap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

TAP_DEFINE;

#define WORKERS 2
#define TARGET 100000
#define MIN_INTERVALS 60

static const struct combo cases[] = {
	{ RWP_MEM_SHMEM, RWP_BACKEND_NATIVE },	 { RWP_MEM_HUGETLB, RWP_BACKEND_NATIVE },
	{ RWP_MEM_ANON, RWP_BACKEND_NATIVE },	 { RWP_MEM_SHMEM, RWP_BACKEND_WP_ASYNC },
	{ RWP_MEM_SHMEM, RWP_BACKEND_MINOR },	 { RWP_MEM_HUGETLB, RWP_BACKEND_MINOR },
};

struct shared {
	struct guestmem *g;
	uint32_t *version; /* per 4 KiB page, written only by its owner */
	atomic_bool stop;
	atomic_uint_fast64_t bad, reads, writes;
	atomic_uint_fast64_t window; /* first 4 KiB page of the hot window */
	size_t window_pages;
};

struct worker {
	struct shared *sh;
	int id;
	uint64_t seed;
};

static bool verify(struct shared *sh, uint64_t sub)
{
	uint64_t v;

	if (pattern_check(sh->g->base + sub * 4096, sub, &v) && v == sh->version[sub])
		return true;
	if (atomic_fetch_add(&sh->bad, 1) < 5)
		tap_diag("page %llu: bad (version %u expected)", (unsigned long long)sub,
			 sh->version[sub]);
	return false;
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	uint64_t subs = sh->g->len / 4096;

	while (!atomic_load(&sh->stop)) {
		uint64_t x = test_rand(&w->seed);
		uint64_t sub;

		/*
		 * Nearly all accesses in the moving hot window, one in 2048 anywhere (a cold or
		 * evicted page): rare enough that most huge pages stay idle for an interval.
		 */
		if (x % 2048)
			sub = atomic_load(&sh->window) + (x >> 8) % sh->window_pages;
		else
			sub = (x >> 8) % subs;
		sub -= sub % WORKERS;
		sub += w->id;
		if (sub >= subs)
			continue;
		verify(sh, sub);
		atomic_fetch_add(&sh->reads, 1);
		if (x & (1 << 4)) {
			pattern_fill(sh->g->base + sub * 4096, sub, ++sh->version[sub]);
			atomic_fetch_add(&sh->writes, 1);
		}
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_case(const struct combo *tc)
{
	const char *env = getenv("RWP_TORTURE_SECS");
	double budget = env ? atof(env) : 40, t0 = 0;
	char name[96];
	struct guestmem g;
	struct shared sh = { 0 };
	struct worker w[WORKERS];
	pthread_t th[WORKERS];
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r;
	struct rwp_tier *t = NULL;
	struct rwp_stats st = { 0 };
	uint64_t subs, evicted = 0, fetched = 0, per;
	int started = 0, ticks = 0;
	bool ok = false;

	snprintf(name, sizeof(name), "%s/%s: no page lost or corrupted under eviction",
		 rwp_mem_name(tc->mem), rwp_backend_name(tc->backend));
	if (!guestmem_map_or_skip(&g, tc->mem, tc->backend, test_region_bytes(), name))
		return;
	subs = g.len / 4096;
	per = g.page_size / 4096;
	sh.g = &g;
	sh.version = calloc(subs, sizeof(*sh.version));
	sh.window_pages = subs / 20;
	CHECK(sh.version, out, "out of memory");
	for (uint64_t s = 0; s < subs; s++)
		if (s % 7) /* every 7th page stays zero: zero pages cost no storage */
			pattern_fill(g.base + s * 4096, s, sh.version[s] = 1);
		else
			pattern_fill(g.base + s * 4096, s, sh.version[s] = 0);
	CHECK(!test_ctx_new(0, &ctx), out, "context");
	CHECK(!guestmem_register(ctx, &g, tc->backend, RWP_REGION_EVICTABLE, &r), out,
	      "register: %s", rwp_ctx_last_error(ctx));
	CHECK(!rwp_tier_zram_new(NULL, &t) && !rwp_tier_attach(ctx, t, 0), out, "tier");
	t = NULL;
	CHECK(!rwp_track_start(ctx), out, "start: %s", rwp_ctx_last_error(ctx));
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){ .sh = &sh, .id = i, .seed = 1000 + i };
		CHECK(!pthread_create(&th[i], NULL, worker, &w[i]), out, "thread");
		started++;
	}
	t0 = now();
	RWP_OPTS(rwp_policy, pol, .min_idle = 1);
	while (now() - t0 < budget &&
	       (evicted < TARGET || fetched < TARGET || ticks < MIN_INTERVALS)) {
		struct rwp_evict_result res;

		usleep(50000);
		/* the window moves on: yesterday's hot pages go cold and are evicted */
		atomic_store(&sh.window, (atomic_load(&sh.window) + sh.window_pages / 4) %
						 (subs - sh.window_pages));
		CHECK(rwp_track_tick(ctx) >= 0, out, "tick: %s", rwp_ctx_last_error(ctx));
		CHECK(!rwp_evict(ctx, &pol, &res), out, "evict: %s", rwp_ctx_last_error(ctx));
		CHECK(res.failed == 0, out, "%llu pages failed to store", (unsigned long long)res.failed);
		rwp_stats(ctx, &st);
		evicted = st.evicted_total * per;
		fetched = (st.fetched + st.prefetched) * per;
		ticks++;
	}
	ok = true;
out:
	atomic_store(&sh.stop, true);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (ctx) {
		rwp_stats(ctx, &st);
		tap_diag("%s/%s: %d intervals in %.1f s, %llu evicted, %llu fetched (%llu zero, %llu "
			 "prefetched), %llu reads, %llu writes, fetch p50 %llu ns p99 %llu ns",
			 rwp_mem_name(tc->mem), rwp_backend_name(tc->backend), ticks, now() - t0,
			 (unsigned long long)evicted, (unsigned long long)fetched,
			 (unsigned long long)st.fetched_zero, (unsigned long long)st.prefetched,
			 (unsigned long long)atomic_load(&sh.reads),
			 (unsigned long long)atomic_load(&sh.writes),
			 (unsigned long long)st.fault_latency.p50_ns,
			 (unsigned long long)st.fault_latency.p99_ns);
	}
	if (ok && (evicted < TARGET || fetched < TARGET)) {
		tap_diag("only %llu evictions and %llu fetches in %.0f s", (unsigned long long)evicted,
			 (unsigned long long)fetched, budget);
		ok = false;
	}
	/* every page, evicted or not, must read back right (this fetches the rest home) */
	for (uint64_t s = 0; ok && s < subs; s++)
		verify(&sh, s);
	rwp_tier_free(t);
	rwp_ctx_free(ctx);
	/* and after the context is gone, from memory alone */
	for (uint64_t s = 0; ok && s < subs; s++)
		verify(&sh, s);
	if (atomic_load(&sh.bad)) {
		tap_diag("%llu bad page reads", (unsigned long long)atomic_load(&sh.bad));
		ok = false;
	}
	tap_ok(ok, "%s", name);
	free(sh.version);
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
