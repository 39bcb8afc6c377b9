// SPDX-License-Identifier: MIT
/*
 * Part c: eviction throughput. A shmem region filled with one kind of content is made
 * wholly cold (tracking started, one tick with nothing touched), and rwp_evict() takes
 * every page to one tier, timed by its own clock (res.ns). For the file tier the
 * fsync() of its file after the pass is added, as the device floor is synced. Each
 * repetition then drains the region back (rwp_drain) and checks every page bit-exact.
 * The floors (tier-evict-floor.c) follow it, on a twin memfd holding the same bytes.
 */
#define _GNU_SOURCE
#include "tier.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct cfg {
	const char *tier;
	enum content c;
};

/* lz4 across contents (its speed depends on them); the others on the guest-like blend */
static const struct cfg cfgs[] = {
	{ "zram-lz4", C_MIXED },  { "zram-lz4", C_TEXT },   { "zram-lz4", C_HEAP },
	{ "zram-lz4", C_RANDOM }, { "zram-lz4", C_ZERO },   { "zram-zstd", C_MIXED },
	{ "file", C_MIXED },	  { "file", C_RANDOM },
};

/* Medians of the repetitions, per figure. */
struct samples {
	uint64_t *lib, *sync, *cap, *comp, *dev;
};

/* fsync() of the file tier's file: what it wrote reaches the device. */
static int sync_tier(const struct tier_opts *o, uint64_t *ns)
{
	int fd = open(o->file_path, O_RDONLY | O_CLOEXEC);
	int64_t ret = fd < 0 ? -errno : fsync_ns(fd);

	if (fd >= 0)
		close(fd);
	*ns = ret > 0 ? (uint64_t)ret : 0;
	return ret < 0 ? (int)ret : 0;
}

/* One librwp pass: evict all of g, sync (file), drain back, check. */
static int lib_pass(const struct tier_opts *o, struct guestmem *g, struct evict_row *row,
		    struct samples *s, unsigned int i, const char **step)
{
	RWP_OPTS(rwp_ctx_opts, co, .flags = RWP_CTX_PIN_HANDLER, .handler_cpu = o->cpu_a);
	RWP_OPTS(rwp_policy, pol, .min_idle = 1);
	bool file = !strcmp(row->tier, "file");
	struct rwp_evict_result res;
	struct rwp_ctx *ctx = NULL;
	struct rwp_region *r;
	struct rwp_tier *t = NULL;
	struct rwp_stats st;
	uint64_t synced = 0;
	int ret;

	*step = "context";
	if ((ret = rwp_ctx_new(&co, &ctx)))
		return ret;
	*step = "register";
	if ((ret = guestmem_register(ctx, g, RWP_BACKEND_AUTO, RWP_REGION_EVICTABLE, &r)))
		goto out;
	*step = "tier";
	if ((ret = tier_make(o, row->tier, &t)) || (ret = rwp_tier_attach(ctx, t, 0)))
		goto out;
	t = NULL;
	*step = "tick";
	if ((ret = rwp_track_start(ctx)) || (ret = (int)rwp_track_tick(ctx)) < 0)
		goto out;
	*step = "evict";
	if ((ret = rwp_evict(ctx, &pol, &res)))
		goto out;
	*step = "fsync";
	if (file && (ret = sync_tier(o, &synced)))
		goto out;
	*step = "evict";
	if (res.evicted != g->nr_pages) {
		snprintf(row->why, sizeof(row->why), "evicted %llu of %zu pages",
			 (unsigned long long)res.evicted, g->nr_pages);
		ret = -EAGAIN;
		goto out;
	}
	rwp_stats(ctx, &st);
	row->ratio = st.tier[0].used_bytes ? (double)st.tier[0].bytes / st.tier[0].used_bytes : 0;
	row->evicted = res.evicted;
	row->zero = res.zero;
	s->lib[i] = res.ns + synced;
	s->sync[i] = synced;
	*step = "drain";
	if ((ret = (int)rwp_drain(ctx)) < 0)
		goto out;
	ret = 0;
	row->intact &= content_intact(row->content, g, NULL);
out:
	if (ret && !row->why[0])
		snprintf(row->why, sizeof(row->why), "%s", rwp_ctx_last_error(ctx));
	rwp_tier_free(t);
	rwp_ctx_free(ctx);
	return ret;
}

/* The floors of one repetition; g holds the content (resident, unregistered). */
static int floor_pass(const struct tier_opts *o, const struct guestmem *g, int twin,
		      struct evict_row *row, struct samples *s, unsigned int i, const char **step)
{
	int ret;

	*step = "twin";
	if (pwrite(twin, g->base, g->len, 0) != (ssize_t)g->len)
		return -EIO;
	*step = "capture floor";
	if ((ret = floor_capture(twin, g->len, row->tier, &s->cap[i], &s->comp[i])))
		return ret;
	if (strcmp(row->tier, "file"))
		return 0;
	/* the bytes the file tier wrote: every page but the zero ones (known after a pass) */
	*step = "device floor";
	return floor_device(o->file_dir, g->base, (row->evicted - row->zero) * PAGE, &s->dev[i]);
}

static void one_row(const struct tier_opts *o, struct evict_row *row)
{
	unsigned int reps = o->reps;
	uint64_t *all = calloc(5 * (size_t)reps, sizeof(*all));
	struct samples s = { all, all + reps, all + 2 * reps, all + 3 * reps, all + 4 * reps };
	const char *step = "map", *why = NULL;
	struct guestmem g;
	int twin = -1, ret;

	row->intact = true;
	if ((ret = map_filled(&g, RWP_MEM_SHMEM, o->mb, row->content, &why))) {
		snprintf(row->why, sizeof(row->why), "%s", why ? why : strerror(-ret));
		free(all);
		return;
	}
	row->pages = g.nr_pages;
	twin = memfd_create("rwp-bench-twin", MFD_CLOEXEC);
	ret = !all || twin < 0 ? -ENOMEM : 0;
	/* librwp first: the device floor writes what it learnt the file tier wrote */
	for (unsigned int i = 0; !ret && i < reps; i++) {
		if (!(ret = lib_pass(o, &g, row, &s, i, &step)))
			ret = floor_pass(o, &g, twin, row, &s, i, &step);
		/* the twin's pages are punched: give them back between repetitions */
		if (!ret && ftruncate(twin, 0))
			ret = -errno;
	}
	if (!ret) {
		row->lib_gbs = (double)row->pages * PAGE / median_u64(s.lib, reps);
		row->sync_s = median_u64(s.sync, reps) / 1e9;
		double dev = median_u64(s.dev, reps);

		row->capture_ns_pp = median_u64(s.cap, reps) / row->pages;
		row->compress_ns_pp = median_u64(s.comp, reps) / row->pages;
		row->dev_gbs = dev > 0 ? (row->evicted - row->zero) * (double)PAGE / dev : 0;
		row->ok = true;
	} else {
		why_step(row->why, sizeof(row->why), step, ret);
	}
	if (twin >= 0)
		close(twin);
	guestmem_unmap(&g);
	free(all);
}

size_t tier_evict_run(const struct tier_opts *o, struct evict_row *v, size_t n, bool *failed)
{
	size_t k = 0;

	pin_self(o->cpu_a);
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]) && k < n; i++) {
		struct evict_row *row = &v[k];

		/* a smoke run: each tier once, on the guest-like blend */
		if (o->quick && cfgs[i].c != C_MIXED)
			continue;
		memset(row, 0, sizeof(*row));
		snprintf(row->tier, sizeof(row->tier), "%s", cfgs[i].tier);
		row->content = cfgs[i].c;
		one_row(o, row);
		*failed |= !row->ok || !row->intact;
		printf("  [c] %s, %s: %s\n", row->tier, content_name(row->content),
		       row->ok ? "done" : row->why);
		k++;
	}
	return k;
}
