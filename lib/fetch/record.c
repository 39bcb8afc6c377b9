// SPDX-License-Identifier: MIT
/*
 * Working-set record and replay. Recording notes, in fault order, each page served from
 * an image or a tier; the file lists them by region (in registration order) and page, so
 * a later restore at other addresses can replay it. Replay installs the set in bulk.
 *
 * File: "RWPWS001", u32 regions, u32 0, per region {u64 pages, u64 page_size},
 *       u64 entries, entries {u32 region, u32 0, u64 page}. Little endian.
 */
#include "fetch.h"
#include "../track/scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WS_MAGIC "RWPWS001"

struct ws_entry {
	uint32_t region;
	uint32_t pad;
	uint64_t page;
};

struct rwp_recorder {
	pthread_mutex_t lock;
	struct ws_entry *v;
	size_t n, cap;
};

/* A region's rank in registration order among the context's regions. */
static uint32_t rank_of(struct rwp_ctx *ctx, const struct rwp_region *r)
{
	uint32_t k = 0;

	for (size_t i = 0; i < ctx->nr_regions; i++)
		k += ctx->regions[i]->index < r->index;
	return k;
}

/* Regions in registration order; regions_lock held. */
static struct rwp_region *region_by_index(struct rwp_ctx *ctx, uint32_t idx)
{
	for (size_t i = 0; i < ctx->nr_regions; i++)
		if (rank_of(ctx, ctx->regions[i]) == idx)
			return ctx->regions[i];
	return NULL;
}

/* Fault thread, regions_lock held. */
void rwp_record_note(struct rwp_ctx *ctx, struct rwp_region *r, uint64_t pg)
{
	struct rwp_recorder *rec = atomic_load(&ctx->recorder);

	if (!rec)
		return;
	pthread_mutex_lock(&rec->lock);
	if (rec->n == rec->cap) {
		size_t cap = rec->cap ? rec->cap * 2 : 4096;
		void *v = realloc(rec->v, cap * sizeof(*rec->v));

		if (!v)
			goto out;
		rec->v = v;
		rec->cap = cap;
	}
	rec->v[rec->n++] = (struct ws_entry){ .region = rank_of(ctx, r), .page = pg };
out:
	pthread_mutex_unlock(&rec->lock);
}

void rwp_recorder_free(struct rwp_ctx *ctx)
{
	struct rwp_recorder *rec = atomic_exchange(&ctx->recorder, NULL);

	if (!rec)
		return;
	free(rec->v);
	pthread_mutex_destroy(&rec->lock);
	free(rec);
}

RWP_EXPORT int rwp_ws_record_start(struct rwp_ctx *ctx)
{
	struct rwp_recorder *rec, *none = NULL;

	if (!ctx)
		return -EINVAL;
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	pthread_mutex_init(&rec->lock, NULL);
	if (!atomic_compare_exchange_strong(&ctx->recorder, &none, rec)) {
		free(rec);
		return -EALREADY;
	}
	return 0;
}

static int write_all(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -EIO;
}

RWP_EXPORT int64_t rwp_ws_record_stop(struct rwp_ctx *ctx, const char *path)
{
	struct rwp_recorder *rec;
	uint32_t hdr[2];
	uint64_t n;
	FILE *f;
	int ret = 0;

	if (!ctx || !path)
		return -EINVAL;
	rec = atomic_exchange(&ctx->recorder, NULL);
	if (!rec)
		return -EINVAL;
	/* the fault thread may still be inside rwp_record_note() */
	pthread_mutex_lock(&rec->lock);
	pthread_mutex_unlock(&rec->lock);
	f = fopen(path, "we");
	if (!f) {
		ret = -errno;
		goto out;
	}
	pthread_rwlock_rdlock(&ctx->regions_lock);
	hdr[0] = ctx->nr_regions;
	hdr[1] = 0;
	ret = write_all(f, WS_MAGIC, 8) ?: write_all(f, hdr, sizeof(hdr));
	for (uint32_t i = 0; !ret && i < ctx->nr_regions; i++) {
		struct rwp_region *r = region_by_index(ctx, i);
		uint64_t geo[2] = { r ? r->nr_pages : 0, r ? r->page_size : 0 };

		ret = write_all(f, geo, sizeof(geo));
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	n = rec->n;
	if (!ret)
		ret = write_all(f, &n, sizeof(n)) ?: write_all(f, rec->v, n * sizeof(*rec->v));
	if (fclose(f) && !ret)
		ret = -errno;
out:
	free(rec->v);
	pthread_mutex_destroy(&rec->lock);
	free(rec);
	return ret ? ret : (int64_t)n;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct ws_entry *x = a, *y = b;

	if (x->region != y->region)
		return x->region < y->region ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

static int read_all(FILE *f, void *p, size_t n)
{
	return fread(p, 1, n, f) == n ? 0 : -EINVAL;
}

/* Read and check a working-set file against the context's layout. */
static int load_ws(struct rwp_ctx *ctx, const char *path, struct ws_entry **out, uint64_t *nout)
{
	char magic[8];
	uint32_t hdr[2] = { 0 };
	uint64_t n = 0;
	struct ws_entry *v = NULL;
	FILE *f = fopen(path, "re");
	int ret;

	if (!f)
		return -errno;
	ret = read_all(f, magic, 8) ?: read_all(f, hdr, sizeof(hdr));
	if (!ret && (memcmp(magic, WS_MAGIC, 8) || hdr[0] != ctx->nr_regions))
		ret = rwp_err(ctx, EINVAL, "%s: not a working set of this layout", path);
	for (uint32_t i = 0; !ret && i < hdr[0]; i++) {
		struct rwp_region *r = region_by_index(ctx, i);
		uint64_t geo[2];

		ret = read_all(f, geo, sizeof(geo));
		if (!ret && (!r || geo[0] != r->nr_pages || geo[1] != r->page_size))
			ret = rwp_err(ctx, EINVAL, "%s: region %u differs", path, i);
	}
	if (!ret)
		ret = read_all(f, &n, sizeof(n));
	if (!ret && n > (1ULL << 32))
		ret = -EINVAL;
	if (!ret && !(v = malloc((n ?: 1) * sizeof(*v))))
		ret = -ENOMEM;
	if (!ret)
		ret = read_all(f, v, n * sizeof(*v));
	for (uint64_t i = 0; !ret && i < n; i++) {
		struct rwp_region *r = region_by_index(ctx, v[i].region);

		if (!r || v[i].page >= r->nr_pages)
			ret = rwp_err(ctx, EINVAL, "%s: entry %llu out of range", path,
				      (unsigned long long)i);
	}
	fclose(f);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*nout = n;
	return 0;
}

RWP_EXPORT int64_t rwp_ws_replay(struct rwp_ctx *ctx, const char *path)
{
	struct ws_entry *v = NULL;
	uint64_t n = 0;
	uint8_t *buf;
	size_t buf_len = 1u << 20;
	int64_t total = 0;
	int ret;

	if (!ctx || !path)
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	ret = load_ws(ctx, path, &v, &n);
	if (ret)
		goto out;
	/* in address order, so that neighbours go in one read and one copy */
	qsort(v, n, sizeof(*v), cmp_entry);
	buf = mmap(NULL, buf_len * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (uint64_t i = 0, j; i < n; i = j) {
		struct rwp_region *r = region_by_index(ctx, v[i].region);

		for (j = i + 1; j < n && v[j].region == v[i].region &&
				v[j].page <= v[j - 1].page + 1;
		     j++)
			;
		int64_t got = rwp_install_range(ctx, r, v[i].page, v[j - 1].page - v[i].page + 1,
						buf, r->page_size > buf_len ? r->page_size : buf_len);

		if (got < 0) {
			ret = got;
			break;
		}
		total += got;
	}
	munmap(buf, buf_len * 2);
out_free:
	free(v);
out:
	pthread_rwlock_unlock(&ctx->regions_lock);
	return ret ? ret : total;
}
