// SPDX-License-Identifier: MIT
/*
 * Part 2: kernel floors. The kernel work a backend's tick asks for, done with raw ioctls
 * on an identical region under a userfaultfd of our own and the same hot set, so that
 * librwp's figure over the floor is what librwp itself adds.
 *
 *   wp-async, shared: PAGEMAP_SCAN(WP_MATCHING|CHECK_WPASYNC, anyof PRESENT, return
 *                     PRESENT|WRITTEN), then MADV_DONTNEED of what it found
 *   wp-async, anon:   PAGEMAP_SCAN(WP_MATCHING|CHECK_WPASYNC, mask WRITTEN); nothing to zap
 *   native:           PAGEMAP_SCAN(mask ACCESSED), then UFFDIO_RWPROTECT of what it found
 *   minor:            MADV_DONTNEED of the region, then one MINOR fault + UFFDIO_CONTINUE
 *                     round trip per touched page (handler pinned with the toucher)
 * Acting on what a scan found is timed both ways, one call per run and one call over the
 * whole region; the floor is the cheaper.
 */
#define _GNU_SOURCE
#include "raw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------- backends -- */

struct samples {
	uint64_t *touch, *rep, *sc, *pr, *pw;
};

static int wp_async_floor(struct raw *x, unsigned int reps, const struct hotset *h,
			  struct samples *s, struct floors *f)
{
	const struct guestmem *g = x->g;
	bool anon = g->mem == RWP_MEM_ANON;
	const uint64_t wpf = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	const uint64_t ret_mask = PAGE_IS_PRESENT | PAGE_IS_WRITTEN;
	/* shared: present pages were touched; anon: written pages */
	const uint64_t mask = anon ? PAGE_IS_WRITTEN : 0, anyof = anon ? 0 : PAGE_IS_PRESENT;
	uint64_t ns;
	int ret;

	ret = raw_whole(x, raw_wprotect, &ns);
	if (ret)
		return ret;
	f->protect_range = (double)ns / g->nr_pages;
	if (!anon && (ret = raw_whole(x, raw_zap, &ns)))
		return ret;
	for (unsigned int k = 0; k < reps; k++) {
		s->touch[k] = hotset_touch(g, h);
		if ((ret = raw_scan(x, 0, mask, anyof, ret_mask, &s->rep[k])) ||
		    (ret = raw_scan(x, wpf, mask, anyof, ret_mask, &s->sc[k])))
			return ret;
		f->runs = x->n;
		if (anon)
			continue;
		if ((ret = raw_each_run(x, raw_zap, &s->pr[k])))
			return ret;
		/* again, for one zap over the whole region of the same present pages */
		hotset_touch(g, h);
		if ((ret = raw_scan(x, wpf, mask, anyof, ret_mask, NULL)) ||
		    (ret = raw_whole(x, raw_zap, &s->pw[k])))
			return ret;
	}
	f->has_scan = true;
	f->has_protect = !anon;
	return 0;
}

static int native_floor(struct raw *x, unsigned int reps, const struct hotset *h,
			struct samples *s, struct floors *f)
{
	const struct guestmem *g = x->g;
	uint64_t ns;
	int ret;

	ret = raw_whole(x, raw_rwprotect, &ns);
	if (ret)
		return ret;
	f->protect_range = (double)ns / g->nr_pages;
	for (unsigned int k = 0; k < reps; k++) {
		s->touch[k] = hotset_touch(g, h);
		if ((ret = raw_scan(x, 0, PAGE_IS_ACCESSED, 0, PAGE_IS_ACCESSED, &s->rep[k])))
			return ret;
		s->sc[k] = s->rep[k]; /* native scans report-only */
		f->runs = x->n;
		if ((ret = raw_each_run(x, raw_rwprotect, &s->pr[k])))
			return ret;
		hotset_touch(g, h);
		if ((ret = raw_whole(x, raw_rwprotect, &s->pw[k])))
			return ret;
	}
	f->has_scan = f->has_protect = true;
	return 0;
}

static int minor_floor(struct raw *x, unsigned int reps, const struct hotset *h,
		       struct samples *s, struct floors *f)
{
	const struct guestmem *g = x->g;
	uint64_t ns;
	int ret;

	ret = raw_whole(x, raw_zap, &ns);
	f->protect_range = (double)ns / g->nr_pages;
	for (unsigned int k = 0; k < reps && !ret; k++) {
		s->touch[k] = hotset_touch(g, h);
		/* librwp's minor tick zaps the whole region: PTEs already empty cost ~nothing */
		ret = raw_whole(x, raw_zap, &s->pw[k]);
		s->pr[k] = s->pw[k];
	}
	if (!ret && x->handler_err)
		ret = -x->handler_err;
	f->has_protect = true;
	return ret;
}

int floors_measure(const struct bench_opts *o, enum rwp_backend b, struct guestmem *g,
		   const struct hotset *h, double untracked_ns, struct floors *f)
{
	unsigned int reps = o->intervals;
	uint64_t *v = calloc(5 * (size_t)reps, sizeof(*v));
	struct samples s = { v, v + reps, v + 2 * reps, v + 3 * reps, v + 4 * reps };
	const char *step = "memory";
	struct raw x = { .uffd = -1 };
	int ret = -ENOMEM;

	memset(f, 0, sizeof(*f));
	if (!v || (ret = raw_open(&x, b, g, o->cpu_main, &step)))
		goto out;
	step = rwp_backend_name(b);
	if (b == RWP_BACKEND_NATIVE)
		ret = native_floor(&x, reps, h, &s, f);
	else if (b == RWP_BACKEND_WP_ASYNC)
		ret = wp_async_floor(&x, reps, h, &s, f);
	else
		ret = minor_floor(&x, reps, h, &s, f);
	if (ret)
		goto out;
	f->touch_ns = median_u64(s.touch, reps);
	f->refault = (f->touch_ns - untracked_ns) / h->n;
	f->scan_report = median_u64(s.rep, reps) / g->nr_pages;
	f->scan = median_u64(s.sc, reps) / g->nr_pages;
	f->protect_runs = median_u64(s.pr, reps) / g->nr_pages;
	f->protect_whole = median_u64(s.pw, reps) / g->nr_pages;
	f->protect = f->protect_runs < f->protect_whole ? f->protect_runs : f->protect_whole;
	f->ok = true;
out:
	if (ret)
		snprintf(f->why, sizeof(f->why), "%s: %s", step, strerror(-ret));
	if (x.uffd >= 0)
		raw_close(&x); /* unregisters: the region is plain memory again */
	free(v);
	return ret;
}
