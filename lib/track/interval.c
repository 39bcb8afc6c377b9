// SPDX-License-Identifier: MIT
/* Detection intervals over all regions of a context. */
#include "../internal.h"

#include <errno.h>
#include <string.h>

/* An error that means the owner unmapped the range under us, not that tracking broke. */
static bool range_vanished(int err)
{
	return err == -ENOENT || err == -EFAULT || err == -ENOMEM || err == -EINVAL;
}

static int region_step(struct rwp_region *r, bool start)
{
	int ret;

	if (atomic_load(&r->gone))
		return 0;
	if (start || !r->armed) {
		ret = r->ops->arm(r);
		r->armed = !ret;
	} else {
		ret = r->ops->tick(r);
	}
	if (ret && range_vanished(ret)) {
		rwp_region_mark_gone(r->ctx, r->addr, r->addr + r->len, "vanished");
		return 0;
	}
	if (ret)
		rwp_log(r->ctx, RWP_LOG_ERR, "region %s %#lx: %s %s: %s", r->name,
			(unsigned long)r->addr, r->ops->name, start ? "arm" : "tick",
			strerror(-ret));
	return ret;
}

RWP_EXPORT int rwp_track_start(struct rwp_ctx *ctx)
{
	int ret = 0;

	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->track_lock);
	if (ctx->tracking) {
		ret = -EALREADY;
		goto out;
	}
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		int err = region_step(ctx->regions[i], true);

		ret = ret ?: err;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	ctx->tracking = true;
out:
	pthread_mutex_unlock(&ctx->track_lock);
	return ret;
}

RWP_EXPORT int64_t rwp_track_tick(struct rwp_ctx *ctx)
{
	int64_t hot = 0;
	int ret = 0;

	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->track_lock);
	if (!ctx->tracking) {
		pthread_mutex_unlock(&ctx->track_lock);
		return -EINVAL;
	}
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];
		int err = region_step(r, false);

		ret = ret ?: err;
		if (!atomic_load(&r->gone))
			hot += r->hot_last;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	atomic_fetch_add(&ctx->intervals, 1);
	pthread_mutex_unlock(&ctx->track_lock);
	return ret ? ret : hot;
}

RWP_EXPORT uint64_t rwp_track_intervals(const struct rwp_ctx *ctx)
{
	return ctx ? atomic_load(&ctx->intervals) : 0;
}

RWP_EXPORT int64_t rwp_ctx_wss_bytes(struct rwp_ctx *ctx, unsigned int window)
{
	int64_t bytes = 0;

	if (!ctx || window < 1 || window > RWP_AGE_MAX)
		return -EINVAL;
	pthread_mutex_lock(&ctx->track_lock);
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];

		if (!atomic_load(&r->gone))
			bytes += rwp_ages_wss(r, window) * (int64_t)r->page_size;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	pthread_mutex_unlock(&ctx->track_lock);
	return bytes;
}
