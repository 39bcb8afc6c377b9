// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include "truth.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994
#define HUGETLBFS_MAGIC_ 0x958458f6

int truth_init(struct truth *t, struct guestmem *g)
{
	memset(t, 0, sizeof(*t));
	t->g = g;
	t->nr_pages = g->nr_pages;
	t->min_touch = TOUCH_READ;
	t->touch = calloc(t->nr_pages, 1);
	t->age = calloc(t->nr_pages, 1);
	t->ages = calloc(t->nr_pages, 1);
	t->shadow = calloc(t->nr_pages, sizeof(*t->shadow));
	t->bits = calloc((t->nr_pages + 63) / 64, 8);
	if (!t->touch || !t->age || !t->ages || !t->shadow || !t->bits) {
		truth_free(t);
		return -ENOMEM;
	}
	return 0;
}

void truth_sees(struct truth *t, unsigned int sees)
{
	t->min_touch = (sees & RWP_SEES_READS) ? TOUCH_READ : TOUCH_WRITE;
	t->dirty = sees & RWP_SEES_DIRTY;
}

void truth_free(struct truth *t)
{
	free(t->touch);
	free(t->age);
	free(t->ages);
	free(t->shadow);
	free(t->bits);
	t->touch = t->age = t->ages = NULL;
	t->shadow = t->bits = NULL;
}

void truth_populate(struct truth *t, size_t first, size_t n)
{
	for (size_t pg = first; pg < first + n && pg < t->nr_pages; pg++) {
		*probe_word(t->g, pg) = stamp(pg, 0);
		t->shadow[pg] = stamp(pg, 0);
	}
}

void truth_note(struct truth *t, size_t pg, int kind)
{
	if (t->touch[pg] < kind)
		t->touch[pg] = kind;
}

void truth_read(struct truth *t, size_t pg)
{
	uint64_t v = *probe_word(t->g, pg);

	if (v != t->shadow[pg]) {
		if (t->bad_data++ < 4)
			tap_diag("page %zu reads %#llx, expected %#llx", pg, (unsigned long long)v,
				 (unsigned long long)t->shadow[pg]);
	}
	truth_note(t, pg, TOUCH_READ);
}

void truth_write(struct truth *t, size_t pg, uint64_t v)
{
	*probe_word(t->g, pg) = v;
	t->shadow[pg] = v;
	truth_note(t, pg, TOUCH_WRITE);
}

void truth_touch_random(struct truth *t, size_t first, size_t n, unsigned int one_in,
			unsigned int gen, uint64_t *seed)
{
	for (size_t pg = first; pg < first + n && pg < t->nr_pages; pg++) {
		uint64_t x = test_rand(seed) % (3 * one_in);

		if (x == 0)
			truth_write(t, pg, stamp(pg, gen));
		else if (x < 3)
			truth_read(t, pg);
	}
}

size_t truth_expected_hot(const struct truth *t)
{
	size_t n = 0;

	for (size_t pg = 0; pg < t->nr_pages; pg++)
		n += t->touch[pg] >= t->min_touch;
	return n;
}

static bool compare_bits(const char *what, const char *set, const uint64_t *bits,
			 const uint8_t *touch, size_t n, uint8_t min_touch)
{
	size_t tp = 0, fp = 0, fn = 0, shown = 0;

	for (size_t pg = 0; pg < n; pg++) {
		bool got = bits[pg / 64] & (1ULL << (pg % 64));
		bool want = touch[pg] >= min_touch;

		tp += got && want;
		fp += got && !want;
		fn += !got && want;
		if (got != want && shown++ < 4)
			tap_diag("%s: %s: page %zu %s (touch %d)", what, set, pg,
				 got ? "reported but not accessed" : "accessed but not reported",
				 touch[pg]);
	}
	if (fp || fn)
		tap_diag("%s: %s: %zu right, %zu false positives, %zu missed", what, set, tp, fp,
			 fn);
	return !fp && !fn;
}

bool truth_check(struct truth *t, const struct rwp_region *r, const char *what)
{
	size_t n = t->nr_pages, want_hot = 0;
	bool ok = true;
	int64_t got;

	for (size_t pg = 0; pg < n; pg++) {
		bool in = t->touch[pg] >= t->min_touch;

		want_hot += in;
		t->age[pg] = in ? 0 : t->age[pg] + (t->age[pg] < RWP_AGE_MAX);
	}
	got = rwp_region_hot_bitmap(r, t->bits, n);
	if (got != (int64_t)want_hot) {
		tap_diag("%s: hot bitmap has %lld pages, truth %zu", what, (long long)got, want_hot);
		ok = false;
	}
	ok &= compare_bits(what, "hot", t->bits, t->touch, n, t->min_touch);
	if (t->dirty) {
		got = rwp_region_dirty_bitmap(r, t->bits, n);
		if (got < 0) {
			tap_diag("%s: dirty bitmap: %lld", what, (long long)got);
			ok = false;
		} else {
			ok &= compare_bits(what, "dirty", t->bits, t->touch, n, TOUCH_WRITE);
		}
	}
	if (rwp_region_ages(r, 0, n, t->ages) || memcmp(t->ages, t->age, n)) {
		size_t shown = 0;

		for (size_t pg = 0; pg < n && shown < 4; pg++) {
			if (t->ages[pg] != t->age[pg]) {
				tap_diag("%s: page %zu age %u, expected %u", what, pg, t->ages[pg],
					 t->age[pg]);
				shown++;
			}
		}
		ok = false;
	}
	for (unsigned int win = 1; win <= 64; win *= 4) {
		int64_t want = 0;

		for (size_t pg = 0; pg < n; pg++)
			want += t->age[pg] < win;
		got = rwp_region_wss(r, win);
		if (got != want) {
			tap_diag("%s: wss(%u) %lld, expected %lld", what, win, (long long)got,
				 (long long)want);
			ok = false;
		}
	}
	if (t->bad_data) {
		tap_diag("%s: %zu probe words read back wrong", what, t->bad_data);
		ok = false;
	}
	memset(t->touch, 0, n);
	t->bad_data = 0;
	return ok;
}

const char *test_disk_dir(void)
{
	const char *cand[] = { getenv("RWP_TEST_DIR"), getenv("TMPDIR"), "/var/tmp", "/tmp", "." };
	struct statfs s;

	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		if (!cand[i] || !*cand[i] || statfs(cand[i], &s) || access(cand[i], W_OK))
			continue;
		if (s.f_type == TMPFS_MAGIC_ || s.f_type == RAMFS_MAGIC_ ||
		    s.f_type == (typeof(s.f_type))HUGETLBFS_MAGIC_)
			continue;
		return cand[i];
	}
	return NULL;
}
