// SPDX-License-Identifier: MIT
/*
 * Exactness: threads touch a known, changing page set of a 1 GiB region for 6 intervals;
 * every backend's hot set must equal the ground truth (100% precision and recall), and so
 * must its dirty set, idle ages and working-set sizes. Run on every memory type x backend
 * the kernel offers.
 */
#define _GNU_SOURCE
#include "../lib/guestmem.h"
#include "../lib/tap.h"

#include <pthread.h>
#include <string.h>

TAP_DEFINE;

#define INTERVALS 6
#define THREADS 2

struct tcase {
	enum rwp_mem mem;
	enum rwp_backend backend;
};

static const struct tcase cases[] = {
	{ RWP_MEM_SHMEM, RWP_BACKEND_NATIVE },	 { RWP_MEM_HUGETLB, RWP_BACKEND_NATIVE },
	{ RWP_MEM_ANON, RWP_BACKEND_NATIVE },	 { RWP_MEM_SHMEM, RWP_BACKEND_WP_ASYNC },
	{ RWP_MEM_HUGETLB, RWP_BACKEND_WP_ASYNC }, { RWP_MEM_ANON, RWP_BACKEND_WP_ASYNC },
	{ RWP_MEM_SHMEM, RWP_BACKEND_MINOR },	 { RWP_MEM_HUGETLB, RWP_BACKEND_MINOR },
};

struct workload {
	struct guestmem *g;
	uint8_t *touch; /* per page: 0 none, 1 read, 2 write */
	int id;
};

static void *worker(void *arg)
{
	struct workload *w = arg;
	struct guestmem *g = w->g;

	for (size_t pg = w->id; pg < g->nr_pages; pg += THREADS) {
		/* touch somewhere inside the page, not only its first byte */
		volatile uint64_t *p = (volatile uint64_t *)(g->base + pg * g->page_size +
							     (pg * 64 % g->page_size));

		if (w->touch[pg] == 1)
			(void)*p;
		else if (w->touch[pg] == 2)
			*p = pg;
	}
	return NULL;
}

/* About 10% random pages, a third of them written, plus a contiguous 1% run that moves. */
static void choose(struct guestmem *g, uint8_t *touch, int interval, uint64_t *seed)
{
	size_t run = g->nr_pages / 100 + 1;
	size_t at = (interval * g->nr_pages / INTERVALS) % (g->nr_pages - run);

	memset(touch, 0, g->nr_pages);
	for (size_t pg = 0; pg < g->nr_pages; pg++) {
		uint64_t x = test_rand(seed) % 30;

		if (x < 3)
			touch[pg] = x == 0 ? 2 : 1;
	}
	for (size_t pg = at; pg < at + run; pg++)
		touch[pg] = pg % 2 ? 2 : 1;
}

static bool compare(const char *what, const uint64_t *bits, const uint8_t *truth_of, size_t n,
		    uint8_t min_touch)
{
	size_t tp = 0, fp = 0, fn = 0;

	for (size_t pg = 0; pg < n; pg++) {
		bool got = bits[pg / 64] & (1ULL << (pg % 64));
		bool want = truth_of[pg] >= min_touch;

		tp += got && want;
		fp += got && !want;
		fn += !got && want;
	}
	if (fp || fn)
		tap_diag("%s: %zu right, %zu false positives, %zu missed", what, tp, fp, fn);
	return !fp && !fn;
}

static void run_case(const struct tcase *tc)
{
	char name[96];
	const char *why = NULL;
	struct guestmem g;
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r = NULL;
	struct rwp_region_info info;
	uint8_t *touch = NULL, *expect_age = NULL, *ages = NULL;
	uint64_t *bits = NULL, seed = 42 + tc->mem * 7 + tc->backend;
	bool ok = false;
	int ret;

	snprintf(name, sizeof(name), "%s/%s: hot, dirty, ages and WSS exact over %d intervals",
		 rwp_mem_name(tc->mem), rwp_backend_name(tc->backend), INTERVALS);
	if (!backend_available(tc->backend, tc->mem, &why)) {
		tap_skip(name, "%s", why);
		return;
	}
	ret = guestmem_map(&g, tc->mem, test_region_bytes(), &why);
	if (ret) {
		tap_skip(name, "%s", why ? why : "cannot map guest memory");
		return;
	}
	guestmem_populate(&g);
	touch = calloc(g.nr_pages, 1);
	expect_age = calloc(g.nr_pages, 1);
	ages = calloc(g.nr_pages, 1);
	bits = calloc((g.nr_pages + 63) / 64, 8);
	CHECK(touch && expect_age && ages && bits, out, "out of memory");
	CHECK(!test_ctx_new(0, &ctx), out, "context");
	ret = guestmem_register(ctx, &g, tc->backend, 0, &r);
	CHECK(!ret, out, "register: %s", rwp_ctx_last_error(ctx));
	rwp_region_info(r, &info);
	CHECK(info.backend == tc->backend && info.nr_pages == g.nr_pages, out, "region info");
	CHECK(!rwp_track_start(ctx), out, "start: %s", rwp_ctx_last_error(ctx));

	/* what the backend can see decides the ground truth: anon wp-async sees writes only */
	uint8_t min_touch = (info.sees & RWP_SEES_READS) ? 1 : 2;

	for (int iv = 0; iv < INTERVALS; iv++) {
		pthread_t t[THREADS];
		struct workload w[THREADS];
		size_t want_hot = 0;

		choose(&g, touch, iv, &seed);
		for (int i = 0; i < THREADS; i++) {
			w[i] = (struct workload){ .g = &g, .touch = touch, .id = i };
			pthread_create(&t[i], NULL, worker, &w[i]);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);

		int64_t hot = rwp_track_tick(ctx);

		for (size_t pg = 0; pg < g.nr_pages; pg++) {
			bool in = touch[pg] >= min_touch;

			want_hot += in;
			expect_age[pg] = in ? 0 : expect_age[pg] + (expect_age[pg] < RWP_AGE_MAX);
		}
		CHECK(hot == (int64_t)want_hot, out, "interval %d: tick says %lld hot, truth %zu", iv,
		      (long long)hot, want_hot);
		CHECK(rwp_region_hot_bitmap(r, bits, g.nr_pages) == (int64_t)want_hot, out,
		      "hot bitmap count");
		CHECK(compare("hot", bits, touch, g.nr_pages, min_touch), out, "interval %d", iv);
		if (info.sees & RWP_SEES_DIRTY) {
			CHECK(rwp_region_dirty_bitmap(r, bits, g.nr_pages) >= 0, out, "dirty bitmap");
			CHECK(compare("dirty", bits, touch, g.nr_pages, 2), out, "interval %d", iv);
		}
		CHECK(!rwp_region_ages(r, 0, g.nr_pages, ages), out, "ages");
		CHECK(!memcmp(ages, expect_age, g.nr_pages), out, "interval %d: ages differ", iv);
		for (unsigned int win = 1; win <= 16; win *= 4) {
			int64_t want = 0;

			for (size_t pg = 0; pg < g.nr_pages; pg++)
				want += expect_age[pg] < win;
			CHECK(rwp_region_wss(r, win) == want, out, "interval %d: wss(%u) %lld != %lld",
			      iv, win, (long long)rwp_region_wss(r, win), (long long)want);
		}
		tap_diag("%s/%s interval %d: %zu of %zu pages hot, exact", rwp_mem_name(tc->mem),
			 rwp_backend_name(tc->backend), iv, want_hot, g.nr_pages);
	}
	ok = true;
out:
	tap_ok(ok, "%s", name);
	rwp_ctx_free(ctx);
	guestmem_unmap(&g);
	free(touch);
	free(expect_age);
	free(ages);
	free(bits);
}

int main(void)
{
	tap_init();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (backend_selected(cases[i].backend))
			run_case(&cases[i]);
	return tap_done();
}
