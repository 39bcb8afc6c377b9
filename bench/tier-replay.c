// SPDX-License-Identifier: MIT
/*
 * Part b: working-set replay. A guest-like region (mixed content) starts out in a source:
 * its image (a memfd holding the region's bytes, as a snapshot's memory file sits in the
 * page cache) or a zram-lz4 tier the whole region was evicted to. One run records the
 * pages a fixed working set (a quarter of the pages, in runs of 16) faults in. Each pass
 * then puts the set back in the source (a new region for the image, the set evicted
 * again for the tier), times rwp_ws_replay, and counts the touches that still fault.
 * Floors, same runs, same kind of memory, registered MISSING with our own userfaultfd:
 *   memory: one UFFDIO_COPY per run straight from a populated mapping of the image;
 *   source: each run read from the source first (one pread per run from the image, or
 *           LZ4_decompress_safe of each page), then one UFFDIO_COPY.
 * Runs are cut at 1 MiB on every side, as librwp's replay buffer cuts them.
 */
#define _GNU_SOURCE
#include "tier.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_PAGES 256 /* 1 MiB */

/* What every side of one row shares. */
struct replay {
	const struct tier_opts *o;
	enum rwp_mem mem;
	bool image;	    /* else zram-lz4 */
	int img_fd;	    /* the image memfd, and a populated mapping of it */
	uint8_t *img;
	struct hotset h;    /* the working set */
	char path[4096];    /* the recorded working set */
	/* zram floor: each non-zero page of the set compressed, in set order */
	char **lz;
	int *lz_len;
	uint8_t *buf;	    /* CHUNK_PAGES pages */
};

/* ------------------------------------------------------------------ floors -- */

struct floor_arg {
	struct replay *x;
	struct guestmem *g;
	int uffd;
	bool from_source;
	size_t k; /* index into the set, for the compressed pages */
};

static int copy_run(int uffd, uint8_t *dst, const uint8_t *src, size_t len)
{
	struct uffdio_copy c = { .dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len,
				 .mode = UFFDIO_COPY_MODE_DONTWAKE };

	return ioctl(uffd, UFFDIO_COPY, &c) ? -errno : 0;
}

/* Bring pages [first, first + n) of the source into x->buf. */
static int read_source(struct floor_arg *a, uint64_t first, uint64_t n)
{
	struct replay *x = a->x;

	if (x->image) {
		ssize_t r = pread(x->img_fd, x->buf, n * PAGE, (off_t)(first * PAGE));

		return r == (ssize_t)(n * PAGE) ? 0 : -EIO;
	}
	for (uint64_t i = 0; i < n; i++, a->k++) {
		uint8_t *p = x->buf + i * PAGE;

		if (!x->lz[a->k])
			memset(p, 0, PAGE);
		else if (LZ4_decompress_safe(x->lz[a->k], (char *)p, x->lz_len[a->k], PAGE) != PAGE)
			return -EIO;
	}
	return 0;
}

static int floor_fn(void *arg, uint64_t first, uint64_t n)
{
	struct floor_arg *a = arg;

	for (uint64_t done = 0; done < n;) {
		uint64_t m = n - done < CHUNK_PAGES ? n - done : CHUNK_PAGES, pg = first + done;
		const uint8_t *src = a->x->img + pg * PAGE;
		int ret = a->from_source ? read_source(a, pg, m) : 0;

		if (!ret)
			ret = copy_run(a->uffd, a->g->base + pg * PAGE,
				       a->from_source ? a->x->buf : src, m * PAGE);
		if (ret)
			return ret;
		done += m;
	}
	return 0;
}

/* One floor pass on a fresh region; returns ns, or -errno. */
static int64_t floor_pass(struct replay *x, bool from_source, bool *intact)
{
	struct guestmem g;
	struct floor_arg a = { .x = x, .g = &g, .from_source = from_source };
	const char *why = NULL;
	uint64_t t0;
	int64_t ret;

	if ((ret = guestmem_map(&g, x->mem, x->o->mb << 20, &why)))
		return ret;
	if ((ret = raw_missing_uffd(&g, &a.uffd))) {
		guestmem_unmap(&g);
		return ret;
	}
	t0 = now_ns();
	ret = each_run(&x->h, floor_fn, &a);
	if (!ret)
		ret = (int64_t)(now_ns() - t0);
	*intact &= ret < 0 || content_intact(C_MIXED, &g, &x->h);
	close(a.uffd);
	guestmem_unmap(&g);
	return ret;
}

/* --------------------------------------------------------------- librwp side -- */

/* A region holding the source, and its context. */
struct side {
	struct guestmem g;
	struct rwp_ctx *ctx;
	struct rwp_region *r;
};

static void side_close(struct side *s, struct replay_row *row, int ret)
{
	if (ret && s->ctx && !row->why[0])
		snprintf(row->why, sizeof(row->why), "%s", rwp_ctx_last_error(s->ctx));
	rwp_ctx_free(s->ctx);
	guestmem_unmap(&s->g);
	s->ctx = NULL;
}

/* A region whose pages are all in the source: the image set lazily, or all evicted. */
static int side_open(struct replay *x, struct side *s, struct replay_row *row,
		     const char **step)
{
	RWP_OPTS(rwp_ctx_opts, co, .flags = RWP_CTX_PIN_HANDLER, .handler_cpu = x->o->cpu_a);
	struct guestmem *g = &s->g;
	struct rwp_tier *t = NULL;
	struct rwp_evict_result res;
	int ret;

	*step = "map";
	s->ctx = NULL;
	if ((ret = x->image ? guestmem_map(g, x->mem, x->o->mb << 20, step)
			    : map_filled(g, x->mem, x->o->mb, C_MIXED, step)))
		return ret;
	*step = "context";
	if ((ret = rwp_ctx_new(&co, &s->ctx)))
		goto out;
	*step = "register";
	if (x->image) {
		if ((ret = guestmem_register(s->ctx, g, RWP_BACKEND_NONE, RWP_REGION_LAZY, &s->r)))
			goto out;
		*step = "image";
		if ((ret = rwp_region_set_image(s->r, x->img_fd, 0)))
			goto out;
		*step = "start";
		ret = rwp_track_start(s->ctx);
		goto out;
	}
	if ((ret = guestmem_register(s->ctx, g, RWP_BACKEND_AUTO, RWP_REGION_EVICTABLE, &s->r)))
		goto out;
	*step = "tier";
	if ((ret = tier_make(x->o, "zram-lz4", &t)) || (ret = rwp_tier_attach(s->ctx, t, 0))) {
		rwp_tier_free(t);
		goto out;
	}
	*step = "start";
	if ((ret = rwp_track_start(s->ctx)))
		goto out;
	*step = "evict";
	if (!(ret = rwp_evict_range(s->r, 0, g->nr_pages, &res)) && res.evicted != g->nr_pages)
		ret = -EAGAIN;
out:
	if (ret)
		side_close(s, row, ret);
	return ret;
}

/* Record the set's faults into x->path. */
static int record(struct replay *x, struct side *s, struct replay_row *row, const char **step)
{
	int64_t got;
	int ret;

	*step = "record";
	if ((ret = rwp_ws_record_start(s->ctx)))
		return ret;
	row->record_s = touch_read(&s->g, &x->h) / 1e9;
	got = rwp_ws_record_stop(s->ctx, x->path);
	return got < 0 ? (int)got : 0;
}

/* One replay into s, then its check; returns ns, or -errno. */
static int64_t replay_pass(struct replay *x, struct side *s, struct replay_row *row,
			   const char **step)
{
	struct rwp_stats a, b;
	uint64_t t0;
	int64_t got, ns;
	int ret;

	/* a tier: the set goes back to it (the rest of the region never left) */
	*step = "evict the set";
	if (!x->image && (ret = evict_set(s->r, &x->h)))
		return ret;
	*step = "replay";
	t0 = now_ns();
	got = rwp_ws_replay(s->ctx, x->path);
	ns = (int64_t)(now_ns() - t0);
	if (got < 0)
		return got;
	/* what the replay left out faults now */
	rwp_stats(s->ctx, &a);
	touch_read(&s->g, &x->h);
	rwp_stats(s->ctx, &b);
	row->late_faults = b.faults_missing - a.faults_missing;
	row->intact &= content_intact(C_MIXED, &s->g, &x->h);
	/* per byte installed: pages the recording missed do not count */
	return ns * (int64_t)x->h.n / (got ? got : 1);
}

/* An image pass needs a fresh region (pages do not go back to an image); a tier's serves all. */
static int64_t lib_pass(struct replay *x, struct side *zs, struct replay_row *row,
			const char **step)
{
	struct side s;
	int64_t ret;

	if (!x->image)
		return replay_pass(x, zs, row, step);
	if ((ret = side_open(x, &s, row, step)))
		return ret;
	ret = replay_pass(x, &s, row, step);
	side_close(&s, row, ret < 0);
	return ret;
}

/* ------------------------------------------------------------------- rows -- */

static int compress_set(struct replay *x)
{
	uint8_t page[PAGE];
	int cap = LZ4_compressBound(PAGE);

	x->lz = calloc(x->h.n, sizeof(*x->lz));
	x->lz_len = calloc(x->h.n, sizeof(*x->lz_len));
	if (!x->lz || !x->lz_len)
		return -ENOMEM;
	for (size_t i = 0; i < x->h.n; i++) {
		content_page(C_MIXED, x->h.pages[i], page);
		if (!memcmp(page, page + 1, PAGE - 1) && !page[0])
			continue; /* a zero page: librwp stores none either */
		if (!(x->lz[i] = malloc(cap)))
			return -ENOMEM;
		x->lz_len[i] = LZ4_compress_default((char *)page, x->lz[i], PAGE, cap);
	}
	return 0;
}

static void free_set(struct replay *x)
{
	for (size_t i = 0; x->lz && i < x->h.n; i++)
		free(x->lz[i]);
	free(x->lz);
	free(x->lz_len);
	x->lz = NULL;
	x->lz_len = NULL;
}

static double gbs(size_t pages, uint64_t ns)
{
	return ns ? pages * (double)PAGE / ns : 0;
}

static void one_row(struct replay *x, struct replay_row *row)
{
	unsigned int reps = x->o->replay_passes;
	uint64_t *lib = calloc(reps, sizeof(*lib)), *mem = calloc(reps, sizeof(*mem)),
		 *src = calloc(reps, sizeof(*src));
	const char *step = "memory";
	struct side s;
	int64_t ret = -ENOMEM;

	row->pages = x->h.n;
	row->runs = count_runs(&x->h);
	row->intact = true;
	if (!lib || !mem || !src || (!x->image && compress_set(x)))
		goto out;
	/* recorded from faults on a region of its own; a tier's region serves every pass */
	if ((ret = side_open(x, &s, row, &step)))
		goto out;
	ret = record(x, &s, row, &step);
	if (ret || x->image)
		side_close(&s, row, ret);
	if (ret)
		goto out;
	/* alternating, so that drift on a shared machine reaches every side alike */
	for (unsigned int i = 0; i < reps; i++) {
		if ((ret = lib_pass(x, &s, row, &step)) < 0)
			break;
		lib[i] = ret;
		step = "memory floor";
		if ((ret = floor_pass(x, false, &row->intact)) < 0)
			break;
		mem[i] = ret;
		step = "source floor";
		if ((ret = floor_pass(x, true, &row->intact)) < 0)
			break;
		src[i] = ret;
	}
	if (!x->image)
		side_close(&s, row, ret < 0);
	if (ret < 0)
		goto out;
	row->lib_gbs = gbs(x->h.n, median_u64(lib, reps));
	row->floor_gbs = gbs(x->h.n, median_u64(mem, reps));
	row->src_gbs = gbs(x->h.n, median_u64(src, reps));
	row->ok = true;
	ret = 0;
out:
	if (ret)
		why_step(row->why, sizeof(row->why), step, (int)ret);
	free_set(x);
	free(lib);
	free(mem);
	free(src);
}

/* The image: a memfd with the region's bytes, and a populated mapping of it. */
static int image_open(struct replay *x)
{
	size_t len = x->o->mb << 20;

	x->img_fd = memfd_create("rwp-bench-image", MFD_CLOEXEC);
	if (x->img_fd < 0 || ftruncate(x->img_fd, (off_t)len))
		return -errno;
	x->img = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, x->img_fd, 0);
	if (x->img == MAP_FAILED) {
		x->img = NULL;
		return -errno;
	}
	content_fill(C_MIXED, 0, x->img, len);
	return 0;
}

size_t tier_replay_run(const struct tier_opts *o, struct replay_row *v, size_t n, bool *failed)
{
	static const enum rwp_mem mems[] = { RWP_MEM_SHMEM, RWP_MEM_ANON };
	struct replay x = { .o = o, .img_fd = -1 };
	size_t k = 0;

	pin_self(o->cpu_a);
	snprintf(x.path, sizeof(x.path), "%s/rwp-bench-tier.%d.ws", o->file_dir, (int)getpid());
	x.buf = mmap(NULL, CHUNK_PAGES * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x.buf == MAP_FAILED || image_open(&x) ||
	    hotset_make(&x.h, (o->mb << 20) / PAGE, 0.25, 16, 11)) {
		printf("  [b] setting up: %s\n", strerror(errno));
		*failed = true;
		goto out;
	}
	for (size_t m = 0; m < sizeof(mems) / sizeof(mems[0]); m++) {
		for (int image = 1; image >= 0 && k < n; image--) {
			struct replay_row *row = &v[k++];

			memset(row, 0, sizeof(*row));
			snprintf(row->mem, sizeof(row->mem), "%s", rwp_mem_name(mems[m]));
			snprintf(row->src, sizeof(row->src), "%s", image ? "image" : "zram-lz4");
			x.mem = mems[m];
			x.image = image;
			one_row(&x, row);
			*failed |= !row->ok || !row->intact;
			printf("  [b] %s from %s: %s\n", row->mem, row->src,
			       row->ok ? "done" : row->why);
		}
	}
out:
	unlink(x.path);
	hotset_free(&x.h);
	if (x.img)
		munmap(x.img, o->mb << 20);
	if (x.img_fd >= 0)
		close(x.img_fd);
	if (x.buf != MAP_FAILED)
		munmap(x.buf, CHUNK_PAGES * PAGE);
	return k;
}
