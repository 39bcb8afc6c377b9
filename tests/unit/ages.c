// SPDX-License-Identifier: MIT
/*
 * Page age bookkeeping (lib/track/ages.c) against a naive model that keeps one age and one
 * written bit per page: the SWAR step of eight ages at once and its saturation at
 * RWP_AGE_MAX, rwp_ages_mark_hot(), rwp_ages_touch() + rwp_ages_fold_touched(), and that
 * the histogram, WSS, hot bitmap, hot ranges, dirty bitmap and per-page ages all agree
 * with the model after every operation of long random sequences.
 */
#define _GNU_SOURCE
#include "../../lib/internal.h"
#include "../lib/tap.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

TAP_DEFINE;

struct model {
	size_t n;
	uint8_t *age;	  /* 0..RWP_AGE_MAX */
	uint8_t *written; /* bit 7 of the tracking byte */
	uint64_t hot_last;
};

struct fixture {
	struct rwp_ctx ctx;
	struct rwp_region r;
	struct model m;
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int fixture_init(struct fixture *f, size_t nr_pages)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->ctx.track_lock, NULL);
	f->r.ctx = &f->ctx;
	f->r.nr_pages = nr_pages;
	f->r.page_size = PAGE_4K;
	f->r.page_shift = 12;
	f->r.len = nr_pages * PAGE_4K;
	f->r.sees = RWP_SEES_READS | RWP_SEES_WRITES | RWP_SEES_DIRTY;
	f->m.n = nr_pages;
	f->m.age = calloc(nr_pages + 1, 1);
	f->m.written = calloc(nr_pages + 1, 1);
	if (!f->m.age || !f->m.written)
		return -ENOMEM;
	return rwp_ages_init(&f->r);
}

static void fixture_free(struct fixture *f)
{
	rwp_ages_free(&f->r);
	free(f->m.age);
	free(f->m.written);
	pthread_mutex_destroy(&f->ctx.track_lock);
}

/* ----------------------------------------------------------------- the model -- */

static void model_step(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		m->age[i] += m->age[i] < RWP_AGE_MAX;
		m->written[i] = 0;
	}
	m->hot_last = 0;
}

static void model_mark(struct model *m, uint64_t first, uint64_t n, bool written)
{
	for (uint64_t i = first; i < first + n && i < m->n; i++) {
		m->hot_last += m->age[i] != 0;
		m->age[i] = 0;
		m->written[i] |= written;
	}
}

static void model_fold(struct model *m)
{
	m->hot_last = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (m->written[i])
			m->age[i] = 0;
		else
			m->age[i] += m->age[i] < RWP_AGE_MAX;
		m->written[i] = 0;
		m->hot_last += !m->age[i];
	}
}

/* ------------------------------------------------------------- comparison -- */

/* Everything the library says about the region equals the model. */
static bool agree(struct fixture *f, const char *when)
{
	struct rwp_region *r = &f->r;
	struct model *m = &f->m;
	const uint8_t *raw = (const uint8_t *)r->ages;
	size_t n = m->n, words = (n + 7) / 8;
	uint64_t hist[RWP_AGE_MAX + 1] = { 0 }, lib_hist[RWP_AGE_MAX + 1];
	uint64_t *bits = calloc((n + 63) / 64 + 1, 8);
	uint8_t *ages = calloc(n + 1, 1);
	size_t hot = 0, dirty = 0;
	bool ok = true;

	if (!bits || !ages)
		abort();
	for (size_t i = 0; i < n; i++) {
		uint8_t want = m->age[i] | (m->written[i] ? AGE_WRITTEN : 0);

		if (raw[i] != want) {
			tap_diag("%s: page %zu byte %#x, model %#x", when, i, raw[i], want);
			ok = false;
			break;
		}
		hist[m->age[i]]++;
		hot += !m->age[i];
		dirty += m->written[i];
	}
	for (size_t i = n; i < words * 8; i++) {
		if (raw[i]) {
			tap_diag("%s: padding byte %zu is %#x", when, i, raw[i]);
			ok = false;
		}
	}
	if (memcmp(hist, r->hist, sizeof(hist))) {
		for (int a = 0; a <= RWP_AGE_MAX; a++)
			if (hist[a] != r->hist[a]) {
				tap_diag("%s: hist[%d] %llu, model %llu", when, a,
					 (unsigned long long)r->hist[a], (unsigned long long)hist[a]);
				break;
			}
		ok = false;
	}
	if (r->hot_last != m->hot_last) {
		tap_diag("%s: hot_last %llu, model %llu", when, (unsigned long long)r->hot_last,
			 (unsigned long long)m->hot_last);
		ok = false;
	}
	if (rwp_region_age_histogram(r, lib_hist) || memcmp(lib_hist, hist, sizeof(hist))) {
		tap_diag("%s: rwp_region_age_histogram differs", when);
		ok = false;
	}
	{
		uint64_t sum = 0;

		for (int a = 0; a <= RWP_AGE_MAX; a++)
			sum += lib_hist[a];
		if (sum != n) {
			tap_diag("%s: histogram counts %llu pages of %zu", when,
				 (unsigned long long)sum, n);
			ok = false;
		}
	}
	for (unsigned int w = 1; w <= RWP_AGE_MAX; w++) {
		int64_t want = 0;

		for (int a = 0; a < (int)w; a++)
			want += hist[a];
		if (rwp_region_wss(r, w) != want || (int64_t)rwp_ages_wss(r, w) != want) {
			tap_diag("%s: wss(%u) %lld, model %lld", when, w,
				 (long long)rwp_region_wss(r, w), (long long)want);
			ok = false;
			break;
		}
	}
	if (rwp_region_hot_bitmap(r, bits, n) != (int64_t)hot) {
		tap_diag("%s: hot bitmap count, model %zu", when, hot);
		ok = false;
	}
	for (size_t i = 0; i < n && ok; i++) {
		if (!!(bits[i / 64] & (1ULL << (i % 64))) != !m->age[i]) {
			tap_diag("%s: hot bit of page %zu", when, i);
			ok = false;
		}
	}
	if (rwp_region_dirty_bitmap(r, bits, n) != (int64_t)dirty) {
		tap_diag("%s: dirty bitmap count, model %zu", when, dirty);
		ok = false;
	}
	for (size_t i = 0; i < n && ok; i++) {
		if (!!(bits[i / 64] & (1ULL << (i % 64))) != m->written[i]) {
			tap_diag("%s: dirty bit of page %zu", when, i);
			ok = false;
		}
	}
	if (rwp_region_ages(r, 0, n, ages) || memcmp(ages, m->age, n)) {
		tap_diag("%s: rwp_region_ages differs", when);
		ok = false;
	}
	/* hot ranges, three at a time from the cursor, cover exactly the age-0 pages */
	{
		struct rwp_range v[3];
		uint64_t cursor = 0, covered = 0, prev_end = 0;
		size_t got;
		bool first = true;

		while ((got = rwp_region_hot_ranges(r, &cursor, v, 3))) {
			for (size_t k = 0; k < got; k++) {
				if (!v[k].count || (!first && v[k].first <= prev_end) ||
				    v[k].first + v[k].count > n) {
					tap_diag("%s: bad hot range %llu+%llu", when,
						 (unsigned long long)v[k].first,
						 (unsigned long long)v[k].count);
					ok = false;
				}
				for (uint64_t p = v[k].first; p < v[k].first + v[k].count && p < n; p++)
					ok &= !m->age[p];
				if (v[k].first > 0 && v[k].first - 1 < n && !m->age[v[k].first - 1] &&
				    (first || v[k].first - 1 >= prev_end)) {
					tap_diag("%s: hot range %llu does not start a run", when,
						 (unsigned long long)v[k].first);
					ok = false;
				}
				covered += v[k].count;
				prev_end = v[k].first + v[k].count;
				first = false;
			}
			if (!ok)
				break;
		}
		if (covered != hot) {
			tap_diag("%s: hot ranges cover %llu pages, model %zu", when,
				 (unsigned long long)covered, hot);
			ok = false;
		}
	}
	free(bits);
	free(ages);
	return ok;
}

/* --------------------------------------------------------------- the tests -- */

/*
 * Every age with and without the written bit, in every byte lane of a word, one step
 * older: +1 up to RWP_AGE_MAX, which stays; written bits clear; lanes do not leak.
 */
static void test_step_lanes(void)
{
	struct fixture f;
	bool ok = true;

	if (fixture_init(&f, 8)) {
		tap_ok(false, "step: setup");
		return;
	}
	for (int v = 0; v < 256 && ok; v++) {
		for (int lane = 0; lane < 8 && ok; lane++) {
			uint8_t *raw = (uint8_t *)f.r.ages;

			/* the other lanes hold their neighbours' values, saturated ones included */
			memset(f.r.hist, 0, sizeof(f.r.hist));
			for (int i = 0; i < 8; i++) {
				uint8_t b = i == lane ? v : (uint8_t)(v + 37 * i + 90);

				raw[i] = b;
				f.m.age[i] = b & AGE_MASK;
				f.m.written[i] = !!(b & AGE_WRITTEN);
				f.r.hist[b & AGE_MASK]++;
			}
			rwp_ages_step(&f.r);
			model_step(&f.m);
			ok = agree(&f, "step");
			if (!ok)
				tap_diag("byte %#x in lane %d", v, lane);
		}
	}
	tap_ok(ok, "step: every byte value in every lane, saturating at %d", RWP_AGE_MAX);
	fixture_free(&f);
}

/* Untouched pages reach RWP_AGE_MAX and stay there; WSS windows shrink as they age. */
static void test_saturation(void)
{
	struct fixture f;
	bool ok = true;

	if (fixture_init(&f, 21)) {
		tap_ok(false, "saturation: setup");
		return;
	}
	for (int i = 0; i < RWP_AGE_MAX + 10 && ok; i++) {
		rwp_ages_step(&f.r);
		model_step(&f.m);
		if (i % 10 == 0) {
			rwp_ages_mark_hot(&f.r, 20, 1, false);
			model_mark(&f.m, 20, 1, false);
		}
		ok = agree(&f, "saturation");
	}
	ok &= f.m.age[0] == RWP_AGE_MAX && f.r.hist[RWP_AGE_MAX] == 20;
	ok &= rwp_region_wss(&f.r, RWP_AGE_MAX) == 1;
	tap_ok(ok, "saturation: %d intervals idle is age %d, counted by no window", RWP_AGE_MAX + 10,
	       RWP_AGE_MAX);
	fixture_free(&f);
}

static void test_bad_args(void)
{
	struct fixture f;
	uint64_t bits[1], cursor = 9;
	uint8_t ages[9];
	struct rwp_range v[1];

	if (fixture_init(&f, 9)) {
		tap_ok(false, "bad arguments: setup");
		return;
	}
	tap_ok(rwp_region_wss(&f.r, 0) == -EINVAL && rwp_region_wss(&f.r, RWP_AGE_MAX + 1) == -EINVAL &&
		       rwp_region_hot_bitmap(&f.r, bits, 8) == -EINVAL &&
		       rwp_region_ages(&f.r, 5, 5, ages) == -EINVAL &&
		       rwp_region_ages(&f.r, 10, 0, ages) == -EINVAL &&
		       rwp_region_ages(&f.r, 9, 0, ages) == 0 &&
		       rwp_region_hot_ranges(&f.r, &cursor, v, 1) == 0,
	       "queries: windows 0 and %d, short bitmaps, ranges past the end", RWP_AGE_MAX + 1);
	f.r.sees = RWP_SEES_WRITES;
	tap_ok(rwp_region_dirty_bitmap(&f.r, bits, 64) == -EOPNOTSUPP,
	       "dirty bitmap of a backend without RWP_SEES_DIRTY: -EOPNOTSUPP");
	fixture_free(&f);
}

enum op { OP_STEP, OP_MARK, OP_TOUCH, OP_FOLD, OP_STEP_THEN_MARKS };

/*
 * Long random sequences on regions of odd sizes: scanning backends (step, then marks of
 * random runs, some past the end) and faulting ones (touches, then a fold) interleaved.
 */
static void test_random(size_t nr_pages, uint64_t seed, int ops)
{
	struct fixture f;
	bool ok;
	char when[64];

	if (fixture_init(&f, nr_pages)) {
		tap_ok(false, "random: setup");
		return;
	}
	ok = agree(&f, "initial");
	for (int i = 0; i < ops && ok; i++) {
		enum op op = rnd(&seed) % 5;
		int marks = rnd(&seed) % 6;

		snprintf(when, sizeof(when), "op %d (%d)", i, op);
		switch (op) {
		case OP_STEP:
			rwp_ages_step(&f.r);
			model_step(&f.m);
			break;
		case OP_MARK:
		case OP_STEP_THEN_MARKS:
			if (op == OP_STEP_THEN_MARKS) {
				rwp_ages_step(&f.r);
				model_step(&f.m);
			}
			for (int k = 0; k < marks; k++) {
				uint64_t first = rnd(&seed) % (nr_pages + 4);
				uint64_t n = rnd(&seed) % 4 ? rnd(&seed) % 16 : rnd(&seed) % (2 * nr_pages);
				bool w = rnd(&seed) % 2;

				rwp_ages_mark_hot(&f.r, first, n, w);
				model_mark(&f.m, first, n, w);
			}
			break;
		case OP_TOUCH:
			for (int k = 0; k < 3 * marks; k++) {
				uint64_t pg = rnd(&seed) % nr_pages;

				rwp_ages_touch(&f.r, pg, rnd(&seed) % 2);
				f.m.written[pg] = 1;
			}
			break;
		case OP_FOLD:
			rwp_ages_fold_touched(&f.r);
			model_fold(&f.m);
			break;
		}
		ok = agree(&f, when);
		/* after a long idle stretch, everything is old */
		if (rnd(&seed) % 97 == 0) {
			for (int k = 0; k < RWP_AGE_MAX; k++) {
				rwp_ages_step(&f.r);
				model_step(&f.m);
			}
			ok &= agree(&f, "long idle");
		}
	}
	tap_ok(ok, "random: %d operations on %zu pages agree with the model", ops, nr_pages);
	fixture_free(&f);
}

/*
 * The fault thread touches pages of the last word while ticks fold: every touch lands in
 * the fold that follows it or in the next, none is lost.
 */
struct toucher {
	struct rwp_region *r;
	uint64_t pg;
	_Atomic uint64_t seq, done;
	atomic_bool stop;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *toucher(void *arg)
{
	struct toucher *t = arg;
	uint64_t seen = 0;

	while (!atomic_load(&t->stop)) {
		uint64_t s = atomic_load(&t->seq);

		if (s == seen)
			continue;
		/* land anywhere in the fold, its very end included */
		for (volatile unsigned int d = s * 2654435761u % 64; d; d--)
			;
		rwp_ages_touch(t->r, t->pg, false);
		seen = s;
		atomic_store(&t->done, s);
	}
	return NULL;
}

static void test_touch_race(void)
{
	struct fixture f;
	struct toucher t;
	pthread_t th;
	uint64_t lost = 0, rounds = 1000000, done = 0;
	uint8_t age;

	/* 13 pages: the last word is padded, the case where a fold also masks the padding */
	if (fixture_init(&f, 13)) {
		tap_ok(false, "touch race: setup");
		return;
	}
	memset(&t, 0, sizeof(t));
	t.r = &f.r;
	t.pg = 12;
	pthread_create(&th, NULL, toucher, &t);
	double end = now_s() + 3; /* a race: as many rounds as fit in a few seconds */

	for (uint64_t i = 1; i <= rounds && now_s() < end; i++) {
		done = i;
		atomic_store(&t.seq, i);
		/* fold while the touch may be landing */
		rwp_ages_fold_touched(&f.r);
		while (atomic_load(&t.done) != i)
			;
		rwp_ages_fold_touched(&f.r);
		/* touched before one of the two folds: age 0 after them, or age 1 */
		rwp_region_ages(&f.r, t.pg, 1, &age);
		if (age > 1)
			lost++;
	}
	atomic_store(&t.stop, true);
	pthread_join(th, NULL);
	tap_ok(!lost, "touch race: %llu of %llu touches racing a fold were lost",
	       (unsigned long long)lost, (unsigned long long)done);
	fixture_free(&f);
}

int main(void)
{
	static const size_t sizes[] = { 1, 7, 8, 9, 63, 64, 65, 333, 4096, 5003 };

	tap_init();
	test_step_lanes();
	test_saturation();
	test_bad_args();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		test_random(sizes[i], 7 + i, sizes[i] > 1000 ? 300 : 3000);
	test_touch_race();
	return tap_done();
}
