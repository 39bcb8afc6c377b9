// SPDX-License-Identifier: MIT
/*
 * Part 4: DAMON beside rwp on one deterministic workload. For each phase a worker reads
 * and writes a known hot set of a shmem region; rwp's interval is the phase, DAMON's view
 * is the last aggregation interval that ends inside it (the worker runs throughout, so the
 * truth is the same set). A page counts as accessed for DAMON when its region's
 * nr_accesses > 0. Precision and recall are per page against the hot set.
 *
 * paddr monitors physical memory: the region's pages are mapped to their frames through
 * /proc/self/pagemap (PFNs need root) and DAMON's regions mapped back.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "damon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RANGES 64	    /* paddr target ranges after merging the smallest gaps */
#define CLUSTER_PAGES 512   /* the clustered pattern: 2 MiB runs */
#define PFN_MASK ((1ULL << 55) - 1)
#define PM_PRESENT (1ULL << 63)

struct score {
	uint64_t tp, fp, fn;
};

static double precision(const struct score *s)
{
	return s->tp + s->fp ? 100.0 * s->tp / (s->tp + s->fp) : 100.0;
}

static double recall(const struct score *s)
{
	return s->tp + s->fn ? 100.0 * s->tp / (s->tp + s->fn) : 100.0;
}

static void score_add(struct score *s, bool got, bool want)
{
	s->tp += got && want;
	s->fp += got && !want;
	s->fn += !got && want;
}

static bool bit(const uint64_t *b, uint64_t i)
{
	return b[i / 64] >> (i % 64) & 1;
}

/* ------------------------------------------------------------ physical frames -- */

struct frame {
	uint64_t phys;
	uint64_t page;
};

static int cmp_frame(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;

	return x->phys < y->phys ? -1 : x->phys > y->phys;
}

/* PFN of every page of g (all present); 0 or -errno, with why. */
static int read_pfns(const struct guestmem *g, uint64_t *pfn, char *why, size_t n)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t len = g->nr_pages * sizeof(*pfn);
	off_t off = (uintptr_t)g->base / 4096 * sizeof(*pfn);

	if (fd < 0 || pread(fd, pfn, len, off) != (ssize_t)len) {
		snprintf(why, n, "reading /proc/self/pagemap: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	close(fd);
	for (size_t i = 0; i < g->nr_pages; i++) {
		if (!(pfn[i] & PM_PRESENT) || !(pfn[i] & PFN_MASK)) {
			snprintf(why, n, "page %zu has no frame number in pagemap (%s)", i,
				 geteuid() ? "PFNs need root" : "not present");
			return -EPERM;
		}
		pfn[i] &= PFN_MASK;
	}
	return 0;
}

/* Pages whose frame changed since pfn[] was read (compaction moves shmem pages). */
static size_t moved_pages(const struct guestmem *g, const uint64_t *pfn)
{
	uint64_t *now = malloc(g->nr_pages * sizeof(*now));
	size_t moved = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && now &&
	    pread(fd, now, g->nr_pages * 8, (uintptr_t)g->base / 4096 * 8) ==
		    (ssize_t)(g->nr_pages * 8)) {
		for (size_t i = 0; i < g->nr_pages; i++)
			moved += (now[i] & PM_PRESENT) && (now[i] & PFN_MASK) != pfn[i];
	}
	if (fd >= 0)
		close(fd);
	free(now);
	return moved;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Runs of contiguous frames, the smallest gaps merged until at most MAX_RANGES remain. */
static size_t frame_ranges(const struct frame *f, size_t n, struct damon_range *out)
{
	uint64_t *gaps = malloc(n * sizeof(*gaps)), limit = 0;
	size_t ngaps = 0, nr = 0;

	if (!gaps)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (f[i].phys != f[i - 1].phys + 4096)
			gaps[ngaps++] = f[i].phys - f[i - 1].phys;
	if (ngaps >= MAX_RANGES) {
		qsort(gaps, ngaps, sizeof(*gaps), cmp_u64);
		limit = gaps[ngaps - MAX_RANGES + 1];
	}
	free(gaps);
	out[nr++] = (struct damon_range){ f[0].phys, f[0].phys + 4096 };
	for (size_t i = 1; i < n; i++) {
		if (f[i].phys - out[nr - 1].end < limit || f[i].phys == out[nr - 1].end)
			out[nr - 1].end = f[i].phys + 4096;
		else if (nr < MAX_RANGES)
			out[nr++] = (struct damon_range){ f[i].phys, f[i].phys + 4096 };
		else
			out[nr - 1].end = f[i].phys + 4096;
	}
	return nr;
}

/* ------------------------------------------------------------------ the runs -- */

struct monitor {
	const char *ops;
	const char *label;
	struct damon_attrs attrs;
};

static const struct monitor monitors[] = {
	{ "vaddr", "defaults", { 5000, 100000, 1000000, 10, 1000 } },
	{ "vaddr", "fine", { 5000, 100000, 1000000, 1000, 10000 } },
	{ "paddr", "defaults", { 5000, 100000, 1000000, 10, 1000 } },
	{ "paddr", "fine", { 5000, 100000, 1000000, 1000, 10000 } },
};

struct pattern {
	const char *name;
	size_t cluster;
};

static const struct pattern patterns[] = {
	{ "scattered 10%", 1 },
	{ "clustered 10% (2 MiB runs)", CLUSTER_PAGES },
};

#define NPAT (sizeof(patterns) / sizeof(patterns[0]))

struct env {
	const struct bench_opts *o;
	struct guestmem *g;
	struct rwp_ctx *ctx;
	struct rwp_region *r;
	struct frame *frames; /* by physical address */
	uint64_t *pfn;
	unsigned int phases;
	double phase_s;
	struct score rwp[NPAT];
	char rwp_name[32];
};

/* DAMON's verdict on every page of the region, as a bitmap. */
static void damon_bits(const struct env *e, bool paddr, const struct damon_region *v, size_t nv,
		       uint64_t *bits)
{
	const struct guestmem *g = e->g;
	size_t j = 0;

	memset(bits, 0, (g->nr_pages + 63) / 64 * 8);
	for (size_t i = 0; i < g->nr_pages; i++) {
		uint64_t a = paddr ? e->frames[i].phys : (uintptr_t)g->base + i * 4096;
		uint64_t pg = paddr ? e->frames[i].page : i;

		while (j < nv && v[j].end <= a)
			j++;
		if (j < nv && v[j].start <= a && v[j].nr_accesses)
			bits[pg / 64] |= 1ULL << (pg % 64);
	}
}

/* One phase: the worker touches h until DAMON has aggregated inside the phase. */
static int phase(struct env *e, const struct hotset *h, bool with_damon, struct damon_region **v,
		 size_t *nv, char *why, size_t n)
{
	struct workload w = { .g = e->g, .h = h, .cpu = e->o->cpu_work, .seed = 0xda301 + h->n };
	int ret;

	if (rwp_track_tick(e->ctx) < 0)
		return -EIO;
	if ((ret = workload_start(&w)))
		return ret;
	sleep_until_ns(now_ns() + (uint64_t)(e->phase_s * 1e9));
	ret = with_damon ? damon_snapshot(v, nv, why, n) : 0;
	atomic_store(&w.stop, true);
	workload_join(&w);
	if (rwp_track_tick(e->ctx) < 0)
		return -EIO;
	return ret;
}

/*
 * Every pattern for e->phases phases; rwp's answer is scored into e->rwp, DAMON's (when
 * with_damon) into sc. Returns 0 or -errno with why.
 */
static int run_patterns(struct env *e, bool with_damon, bool paddr, struct score *sc,
			size_t *nregions, uint64_t *bits, char *why, size_t n)
{
	int ret = 0;

	for (size_t p = 0; p < NPAT && !ret; p++) {
		for (unsigned int ph = 0; ph < e->phases && !ret; ph++) {
			struct damon_region *v = NULL;
			uint64_t *t = NULL;
			struct hotset h;
			size_t nv = 0;

			if ((ret = hotset_make(&h, e->g->nr_pages, 0.10, patterns[p].cluster,
					       1000 * p + ph)))
				break;
			ret = phase(e, &h, with_damon, &v, &nv, why, n);
			/* the first phase of a pattern lets DAMON's regions adapt: not counted */
			if (!ret && ph > 0 && !(t = hotset_bitmap(&h, e->g->nr_pages, false)))
				ret = -ENOMEM;
			if (t && rwp_region_hot_bitmap(e->r, bits, e->g->nr_pages) >= 0) {
				for (size_t i = 0; i < e->g->nr_pages; i++)
					score_add(&e->rwp[p], bit(bits, i), bit(t, i));
			}
			if (t && with_damon) {
				damon_bits(e, paddr, v, nv, bits);
				for (size_t i = 0; i < e->g->nr_pages; i++)
					score_add(&sc[p], bit(bits, i), bit(t, i));
				nregions[p] = nv;
			}
			free(t);
			free(v);
			hotset_free(&h);
		}
	}
	return ret;
}

/* One DAMON configuration over every pattern; returns whether it ran. */
static bool run_monitor(struct env *e, const struct monitor *m, uint64_t *bits)
{
	bool paddr = !strcmp(m->ops, "paddr");
	struct damon_range ranges[MAX_RANGES];
	struct score sc[NPAT] = { 0 };
	size_t nregions[NPAT] = { 0 }, nr = 1, moved;
	char why[256] = "", name[64];
	int ret;

	snprintf(name, sizeof(name), "DAMON %s %s", m->ops, m->label);
	if (paddr && !e->frames) {
		printf("| %-22s | unavailable: no frame numbers (see above) |\n", name);
		return false;
	}
	if (paddr)
		nr = frame_ranges(e->frames, e->g->nr_pages, ranges);
	else
		ranges[0] = (struct damon_range){ (uintptr_t)e->g->base,
						  (uintptr_t)e->g->base + e->g->len };
	ret = damon_start(m->ops, paddr ? 0 : getpid(), ranges, nr, &m->attrs, why, sizeof(why));
	if (!ret)
		ret = run_patterns(e, true, paddr, sc, nregions, bits, why, sizeof(why));
	damon_stop();
	if (ret) {
		printf("| %-22s | unavailable: %s |\n", name, why[0] ? why : strerror(-ret));
		return false;
	}
	moved = paddr ? moved_pages(e->g, e->pfn) : 0;
	for (size_t p = 0; p < NPAT; p++) {
		printf("| %-22s | %-26s | %8.1f%% | %7.1f%% | %7zu |\n", name, patterns[p].name,
		       precision(&sc[p]), recall(&sc[p]), nregions[p]);
		kv("bench=track part=damon monitor=damon-%s-%s pattern=%s precision_pct=%.2f "
		   "recall_pct=%.2f regions=%zu sample_us=%lu aggr_us=%lu min_regions=%lu "
		   "max_regions=%lu",
		   m->ops, m->label, p ? "clustered" : "scattered", precision(&sc[p]),
		   recall(&sc[p]), nregions[p], m->attrs.sample_us, m->attrs.aggr_us,
		   m->attrs.min_regions, m->attrs.max_regions);
	}
	if (moved)
		printf("| %-22s | %zu pages changed frame during the run (their paddr verdicts "
		       "are off) |\n", name, moved);
	return true;
}

static int setup(struct env *e, struct guestmem *g, char *why, size_t n)
{
	RWP_OPTS(rwp_ctx_opts, copts, .flags = RWP_CTX_PIN_HANDLER, .handler_cpu = e->o->cpu_work);
	struct rwp_region_info info;
	const char *w = NULL;
	int ret;

	if ((ret = guestmem_map(g, RWP_MEM_SHMEM, e->o->mb << 20, &w))) {
		snprintf(why, n, "mapping shmem: %s", w ? w : strerror(-ret));
		return ret;
	}
	e->g = g;
	guestmem_populate(g);
	e->pfn = malloc(g->nr_pages * sizeof(*e->pfn));
	e->frames = malloc(g->nr_pages * sizeof(*e->frames));
	if (!e->pfn || !e->frames)
		return -ENOMEM;
	/* before tracking starts: a zapped page has no frame in pagemap */
	if (read_pfns(g, e->pfn, why, n)) {
		printf("| paddr: %s |\n", why);
		free(e->frames);
		e->frames = NULL;
	} else {
		for (size_t i = 0; i < g->nr_pages; i++)
			e->frames[i] = (struct frame){ e->pfn[i] * 4096, i };
		qsort(e->frames, g->nr_pages, sizeof(*e->frames), cmp_frame);
	}
	if ((ret = rwp_ctx_new(&copts, &e->ctx)) ||
	    (ret = guestmem_register(e->ctx, g, RWP_BACKEND_AUTO, 0, &e->r)) ||
	    (ret = rwp_track_start(e->ctx))) {
		snprintf(why, n, "rwp: %s", e->ctx ? rwp_ctx_last_error(e->ctx) : strerror(-ret));
		return ret;
	}
	rwp_region_info(e->r, &info);
	snprintf(e->rwp_name, sizeof(e->rwp_name), "rwp %s", rwp_backend_name(info.backend));
	return 0;
}

void accuracy_run(const struct bench_opts *o)
{
	struct env e = { .o = o, .phases = o->quick ? 2 : 4, .phase_s = o->quick ? 1.0 : 2.0 };
	struct guestmem g = { .fd = -1 };
	uint64_t *bits = NULL;
	char why[256] = "";
	bool any = false;

	printf("\n## 4. DAMON beside rwp: which pages were accessed (shmem, %zu MiB)\n\n", o->mb);
	printf("Each phase: one worker (CPU %d) reads/writes a fixed 10%% hot set for %.0f s; "
	       "rwp's interval is the phase,\nDAMON's view the last aggregation ending inside it "
	       "(page accessed = its region's nr_accesses > 0).\n%u phases per pattern, the first "
	       "not counted. Attributes: sample 5 ms, aggr 100 ms, update 1 s;\nregions 10..1000 "
	       "(defaults) or 1000..10000 (fine).\n\n",
	       o->cpu_work, e.phase_s, e.phases);
	printf("| monitor                | pattern                    | precision |  recall | "
	       "regions |\n|---|---|---:|---:|---:|\n");
	if (setup(&e, &g, why, sizeof(why))) {
		printf("| rwp | unavailable: %s |\n", why);
		goto out;
	}
	bits = calloc((g.nr_pages + 63) / 64, 8);
	if (!bits)
		goto out;
	for (size_t i = 0; i < sizeof(monitors) / sizeof(monitors[0]); i++)
		any |= run_monitor(&e, &monitors[i], bits);
	/* no DAMON here: rwp alone on the same phases */
	if (!any && run_patterns(&e, false, false, NULL, NULL, bits, why, sizeof(why)))
		printf("| %-22s | failed: %s |\n", e.rwp_name, why);
	for (size_t p = 0; p < NPAT; p++) {
		if (!e.rwp[p].tp && !e.rwp[p].fn)
			continue;
		printf("| %-22s | %-26s | %8.1f%% | %7.1f%% | %7s |\n", e.rwp_name,
		       patterns[p].name, precision(&e.rwp[p]), recall(&e.rwp[p]), "-");
		kv("bench=track part=damon monitor=rwp-%s pattern=%s precision_pct=%.2f "
		   "recall_pct=%.2f",
		   e.rwp_name + 4, p ? "clustered" : "scattered", precision(&e.rwp[p]),
		   recall(&e.rwp[p]));
	}
out:
	rwp_ctx_free(e.ctx);
	guestmem_unmap(&g);
	free(bits);
	free(e.pfn);
	free(e.frames);
}
