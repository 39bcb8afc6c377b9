// SPDX-License-Identifier: MIT
/* Fetch options and lazy-restore images. */
#include "fetch.h"
#include "../opts.h"

#include <errno.h>

void rwp_fetch_defaults(struct rwp_fetch_opts *o)
{
	*o = (struct rwp_fetch_opts){
		.sz = sizeof(*o),
		.prefetch = 4,
		.retries = 8,
		.timeout_ms = 30000,
	};
}

RWP_EXPORT int rwp_fetch_configure(struct rwp_ctx *ctx, const struct rwp_fetch_opts *opts)
{
	struct rwp_fetch_opts o;

	if (!ctx || !opts || !OPTS_VALID(opts, rwp_fetch_opts))
		return -EINVAL;
	rwp_fetch_defaults(&o);
	o.prefetch = OPTS_GET(opts, prefetch, 0) ?: o.prefetch;
	o.no_prefetch = OPTS_GET(opts, no_prefetch, false);
	o.retries = OPTS_GET(opts, retries, 0) ?: o.retries;
	o.timeout_ms = OPTS_GET(opts, timeout_ms, 0) ?: o.timeout_ms;
	if (o.prefetch > PREFETCH_MAX / 2)
		return -EINVAL;
	/* read by the fault thread field by field; a torn update only mixes two settings */
	ctx->fetch = o;
	return 0;
}

RWP_EXPORT int rwp_region_set_image(struct rwp_region *r, int fd, off_t offset)
{
	struct rwp_ctx *ctx;
	struct rwp_tier *t;
	int ret;

	if (!r || fd < 0 || offset < 0)
		return -EINVAL;
	ctx = r->ctx;
	if (!r->state)
		return rwp_err(ctx, EINVAL, "region %s: an image needs RWP_REGION_LAZY or _EVICTABLE",
			       r->name);
	if (r->image)
		return rwp_err(ctx, EBUSY, "region %s already has an image", r->name);
	if (r->nr_pages - 1 > PS_SLOT_MAX)
		return rwp_err(ctx, EFBIG, "region %s is too big for an image", r->name);
	ret = rwp_image_new(fd, offset, &t);
	if (ret)
		return ret;
	t->attached = true;
	pthread_mutex_lock(&ctx->track_lock);
	r->image = t;
	/* every page not touched yet lives in the image */
	for (uint64_t pg = 0; pg < r->nr_pages; pg++) {
		ps_t s = PS_RESIDENT;

		if (atomic_compare_exchange_strong(&r->state[pg], &s, ps_stored(PS_TIER_IMAGE, pg)))
			atomic_fetch_add(&r->nonresident, 1);
	}
	pthread_mutex_unlock(&ctx->track_lock);
	atomic_store(&r->image_ready, true);
	rwp_fault_thread_kick(ctx);
	return 0;
}
