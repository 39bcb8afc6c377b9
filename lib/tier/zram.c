// SPDX-License-Identifier: MIT
/* Compressed-RAM tier: lz4 or zstd per page into a compact pool. */
#include "tier.h"
#include "zpool.h"
#include "../opts.h"

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Stored pages carry one header byte: how to read them back. */
enum { Z_RAW = 0, Z_LZ4 = 1, Z_ZSTD = 2 };

struct zram {
	struct rwp_tier tier;
	struct zpool *pool;
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
	size_t need = 1 + (z->codec == RWP_CODEC_ZSTD ? ZSTD_compressBound(page_size)
						       : (size_t)LZ4_compressBound(page_size));

	if (z->scratch_len >= need)
		return 0;
	free(z->scratch);
	z->scratch = malloc(need);
	z->scratch_len = z->scratch ? need : 0;
	return z->scratch ? 0 : -ENOMEM;
}

static size_t compress(struct zram *z, const void *page, size_t page_size)
{
	uint8_t *out = z->scratch + 1;
	size_t cap = z->scratch_len - 1;

	if (z->codec == RWP_CODEC_ZSTD) {
		size_t n = ZSTD_compressCCtx(z->cctx, out, cap, page, page_size, z->level);

		z->scratch[0] = Z_ZSTD;
		return ZSTD_isError(n) ? 0 : n + 1;
	}
	int n = LZ4_compress_fast(page, (char *)out, page_size, cap, z->level);

	z->scratch[0] = Z_LZ4;
	return n > 0 ? (size_t)n + 1 : 0;
}

static int store_one(struct zram *z, struct rwp_store *s, size_t page_size, bool last)
{
	size_t n = compress(z, s->data, page_size);
	const void *src = z->scratch;
	uint8_t *dst;
	int64_t slot;

	if (!n || n > z->max_ratio * page_size) {
		if (!last)
			return -E2BIG; /* the next tier stores it as well for less RAM */
		z->scratch[0] = Z_RAW;
		n = 1 + page_size;
		src = NULL;
	}
	if (z->max_bytes && zpool_used_bytes(z->pool) + n > z->max_bytes)
		return -ENOSPC;
	slot = zpool_alloc(z->pool, n, &dst);
	if (slot < 0)
		return slot == -ENOMEM ? -ENOSPC : (int)slot;
	if (src) {
		memcpy(dst, src, n);
	} else {
		dst[0] = Z_RAW;
		memcpy(dst + 1, s->data, page_size);
	}
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

static int zram_load(struct rwp_tier *t, uint32_t slot, void *page, size_t page_size)
{
	struct zram *z = to_zram(t);
	uint32_t len;
	const uint8_t *obj = zpool_get(z->pool, slot, &len);

	if (!obj || len < 1)
		return -EINVAL;
	switch (obj[0]) {
	case Z_RAW:
		if (len - 1 != page_size)
			return -EIO;
		memcpy(page, obj + 1, page_size);
		return 0;
	case Z_LZ4:
		return LZ4_decompress_safe((const char *)obj + 1, page, len - 1, page_size) ==
			       (int)page_size
			       ? 0
			       : -EIO;
	case Z_ZSTD: {
		size_t n = ZSTD_decompressDCtx(z->dctx, page, page_size, obj + 1, len - 1);

		return !ZSTD_isError(n) && n == page_size ? 0 : -EIO;
	}
	}
	return -EIO;
}

static void zram_drop(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	(void)page_size;
	zpool_release(to_zram(t)->pool, slot);
}

static uint64_t zram_used(struct rwp_tier *t)
{
	return zpool_used_bytes(to_zram(t)->pool);
}

static void zram_destroy(struct rwp_tier *t)
{
	struct zram *z = to_zram(t);

	zpool_free(z->pool);
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z->scratch);
	free(z);
}

static const struct rwp_tier_ops zram_ops = {
	.name = "zram",
	.in_ram = true,
	.store = zram_store,
	.load = zram_load,
	.drop = zram_drop,
	.used_bytes = zram_used,
	.destroy = zram_destroy,
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
	z->pool = zpool_new();
	if (z->codec == RWP_CODEC_ZSTD) {
		z->cctx = ZSTD_createCCtx();
		z->dctx = ZSTD_createDCtx();
	}
	if (!z->pool || (z->codec == RWP_CODEC_ZSTD && (!z->cctx || !z->dctx))) {
		zram_destroy(&z->tier);
		return -ENOMEM;
	}
	rwp_tier_init(&z->tier, &zram_ops, z->codec == RWP_CODEC_ZSTD ? "zram-zstd" : "zram-lz4");
	*out = &z->tier;
	return 0;
}
