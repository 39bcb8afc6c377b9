// SPDX-License-Identifier: MIT
/* Compressed-RAM tier: lz4 or zstd per page into a compact pool. */
#include "tier.h"
#include "zpool.h"
#include "../opts.h"

#include <errno.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <zstd.h>

/* An object's kind in the pool says how to read it back. */
enum { Z_RAW = 1, Z_LZ4 = 2, Z_ZSTD = 3 };

struct zram {
	struct rwp_tier tier;
	pthread_mutex_t lock; /* the pool and the zstd decompression context */
	struct zpool *pool;
	int fd;
	struct rwp_ctx *ctx; /* bound to: the pool file is one of its state files */
	char file[32];
	uint64_t *seen; /* recovery: slots the page maps still refer to */
	enum rwp_codec codec;
	int level;
	double max_ratio;
	uint64_t max_bytes;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	uint8_t *scratch; /* compression output, sized for the biggest page seen */
	size_t scratch_len;
};

static struct zram *to_zram(struct rwp_tier *t)
{
	return (struct zram *)t;
}

static int scratch_for(struct zram *z, size_t page_size)
{
	size_t need = z->codec == RWP_CODEC_ZSTD ? ZSTD_compressBound(page_size)
						 : (size_t)LZ4_compressBound(page_size);

	if (z->scratch_len >= need)
		return 0;
	free(z->scratch);
	z->scratch = malloc(need);
	z->scratch_len = z->scratch ? need : 0;
	return z->scratch ? 0 : -ENOMEM;
}

static size_t compress(struct zram *z, const void *page, size_t page_size)
{
	if (z->codec == RWP_CODEC_ZSTD) {
		size_t n = ZSTD_compressCCtx(z->cctx, z->scratch, z->scratch_len, page, page_size,
					     z->level);

		return ZSTD_isError(n) ? 0 : n;
	}
	int n = LZ4_compress_fast(page, (char *)z->scratch, page_size, z->scratch_len, z->level);

	return n > 0 ? (size_t)n : 0;
}

static int store_one(struct zram *z, struct rwp_store *s, size_t page_size, bool last)
{
	size_t n = compress(z, s->data, page_size);
	const void *src = z->scratch;
	uint8_t kind = z->codec == RWP_CODEC_ZSTD ? Z_ZSTD : Z_LZ4;
	uint8_t *dst;
	int64_t slot;

	if (!n || n > z->max_ratio * page_size) {
		if (!last)
			return -E2BIG; /* the next tier stores it as well for less RAM */
		kind = Z_RAW;
		n = page_size;
		src = s->data;
	}
	/* compressed outside the lock: a fault only waits for the copy into the pool */
	pthread_mutex_lock(&z->lock);
	if (z->max_bytes && zpool_used_bytes(z->pool) + n > z->max_bytes)
		slot = -ENOSPC;
	else
		slot = zpool_alloc(z->pool, n, kind, &dst);
	if (slot >= 0)
		memcpy(dst, src, n);
	pthread_mutex_unlock(&z->lock);
	if (slot < 0)
		return slot == -ENOMEM ? -ENOSPC : (int)slot;
	s->slot = slot;
	return 0;
}

static int zram_store(struct rwp_tier *t, struct rwp_store *v, size_t n, size_t page_size,
		      bool last)
{
	struct zram *z = to_zram(t);
	int ret = scratch_for(z, page_size);

	for (size_t i = 0; i < n; i++)
		v[i].result = ret ?: store_one(z, &v[i], page_size, last);
	return 0;
}

static int decompress(struct zram *z, const uint8_t *obj, uint32_t len, uint8_t kind,
		      void *page, size_t page_size)
{
	size_t n;

	if (!obj)
		return -EINVAL;
	switch (kind) {
	case Z_RAW:
		if (len != page_size)
			return -EIO;
		memcpy(page, obj, page_size);
		return 0;
	case Z_LZ4:
		return LZ4_decompress_safe((const char *)obj, page, len, page_size) ==
			       (int)page_size
			       ? 0
			       : -EIO;
	case Z_ZSTD:
		if (!z->dctx && !(z->dctx = ZSTD_createDCtx()))
			return -ENOMEM;
		n = ZSTD_decompressDCtx(z->dctx, page, page_size, obj, len);
		return !ZSTD_isError(n) && n == page_size ? 0 : -EIO;
	}
	return -EIO;
}

static int zram_load(struct rwp_tier *t, uint32_t slot, void *page, size_t page_size)
{
	struct zram *z = to_zram(t);
	const uint8_t *obj;
	uint32_t len = 0;
	uint8_t kind = 0;
	int ret;

	pthread_mutex_lock(&z->lock);
	obj = zpool_get(z->pool, slot, &len, &kind);
	ret = decompress(z, obj, len, kind, page, page_size);
	pthread_mutex_unlock(&z->lock);
	return ret;
}

static void zram_drop(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	struct zram *z = to_zram(t);

	(void)page_size;
	pthread_mutex_lock(&z->lock);
	zpool_release(z->pool, slot);
	pthread_mutex_unlock(&z->lock);
}

static uint64_t zram_used(struct rwp_tier *t)
{
	struct zram *z = to_zram(t);
	uint64_t n;

	pthread_mutex_lock(&z->lock);
	n = zpool_used_bytes(z->pool);
	pthread_mutex_unlock(&z->lock);
	return n;
}

static void zram_destroy(struct rwp_tier *t)
{
	struct zram *z = to_zram(t);

	zpool_close(z->pool);
	if (z->fd >= 0)
		close(z->fd);
	/* freed with its context, every page home: the pool holds nothing anyone needs */
	if (z->ctx)
		rwp_state_remove(z->ctx, z->file);
	free(z->seen);
	pthread_mutex_destroy(&z->lock);
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z->scratch);
	free(z);
}

/* The pool goes in the context's state directory, where it outlives the process. */
static int zram_bind(struct rwp_tier *t, struct rwp_ctx *ctx)
{
	struct zram *z = to_zram(t);
	int ret;

	snprintf(z->file, sizeof(z->file), "tier-%u.zram", t->index);
	ret = rwp_state_open(ctx, z->file, &z->fd);
	if (ret)
		return ret;
	ret = zpool_open(z->fd, &z->pool);
	if (ret)
		return rwp_err(ctx, -ret, "%s: not a compressed-RAM pool", z->file);
	z->ctx = ctx;
	return 0;
}

static void zram_recover_mark(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	struct zram *z = to_zram(t);
	uint32_t limit = zpool_slot_limit(z->pool);

	(void)page_size;
	if (!z->seen)
		z->seen = calloc((limit + 63) / 64 + 1, 8);
	if (z->seen && slot < limit)
		z->seen[slot / 64] |= 1ULL << (slot % 64);
}

/* An object no page refers to was being stored when the last owner died: free it. */
static uint64_t zram_recover_done(struct rwp_tier *t)
{
	struct zram *z = to_zram(t);
	uint32_t limit = zpool_slot_limit(z->pool);
	uint64_t freed = 0;

	if (!z->seen)
		z->seen = calloc((limit + 63) / 64 + 1, 8);
	for (uint32_t s = 0; z->seen && s < limit; s++) {
		if (zpool_in_use(z->pool, s) && !(z->seen[s / 64] & (1ULL << (s % 64)))) {
			zpool_release(z->pool, s);
			freed++;
		}
	}
	free(z->seen);
	z->seen = NULL;
	return freed;
}

static const struct rwp_tier_ops zram_ops = {
	.name = "zram",
	.in_ram = true,
	.store = zram_store,
	.load = zram_load,
	.drop = zram_drop,
	.used_bytes = zram_used,
	.destroy = zram_destroy,
	.bind = zram_bind,
	.recover_mark = zram_recover_mark,
	.recover_done = zram_recover_done,
};

RWP_EXPORT int rwp_tier_zram_new(const struct rwp_tier_zram_opts *opts, struct rwp_tier **out)
{
	struct zram *z;

	if (!out || !OPTS_VALID(opts, rwp_tier_zram_opts))
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->codec = OPTS_GET(opts, codec, RWP_CODEC_LZ4);
	z->level = OPTS_GET(opts, level, 0) ?: 1;
	z->max_bytes = OPTS_GET(opts, max_bytes, 0);
	z->max_ratio = OPTS_GET(opts, max_ratio, 0.0);
	if (z->max_ratio <= 0 || z->max_ratio > 1)
		z->max_ratio = 0.75;
	if (z->codec != RWP_CODEC_LZ4 && z->codec != RWP_CODEC_ZSTD) {
		free(z);
		return -EINVAL;
	}
	pthread_mutex_init(&z->lock, NULL);
	z->fd = -1;
	if (z->codec == RWP_CODEC_ZSTD && !(z->cctx = ZSTD_createCCtx())) {
		zram_destroy(&z->tier);
		return -ENOMEM;
	}
	rwp_tier_init(&z->tier, &zram_ops, z->codec == RWP_CODEC_ZSTD ? "zram-zstd" : "zram-lz4");
	*out = &z->tier;
	return 0;
}
