// SPDX-License-Identifier: MIT
/* Tier objects and the context's chain of them. */
#include "tier.h"
#include "../evict/evict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rwp_tier_init(struct rwp_tier *t, const struct rwp_tier_ops *ops, const char *name)
{
	t->ops = ops;
	snprintf(t->name, sizeof(t->name), "%s", name);
	pthread_mutex_init(&t->inject_lock, NULL);
}

static bool injected(struct rwp_tier *t, bool load, int *err)
{
	bool hit = false;

	if (!__atomic_load_n(&t->inject_count, __ATOMIC_RELAXED))
		return false;
	pthread_mutex_lock(&t->inject_lock);
	if (t->inject_count && t->inject_on_load == load) {
		t->inject_count--;
		*err = -t->inject_err;
		hit = true;
	}
	pthread_mutex_unlock(&t->inject_lock);
	return hit;
}

void rwp_tier_store(struct rwp_tier *t, struct rwp_store *v, size_t n, size_t page_size,
		    bool last)
{
	size_t from = 0;
	int err;

	while (from < n && injected(t, false, &err))
		v[from++].result = err;
	if (from < n && t->ops->store(t, v + from, n - from, page_size, last))
		for (size_t i = from; i < n; i++)
			v[i].result = v[i].result ?: -EIO;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].result) {
			t->pages++;
			t->bytes += page_size;
			t->stores++;
		} else if (v[i].result != -E2BIG && v[i].result != -ENOSPC) {
			t->errors++;
		}
	}
}

int rwp_tier_load(struct rwp_tier *t, uint32_t slot, void *page, size_t page_size)
{
	int ret;

	if (!injected(t, true, &ret))
		ret = t->ops->load(t, slot, page, page_size);
	if (ret)
		t->errors++;
	else
		t->loads++;
	return ret;
}

int rwp_tier_load_seq(struct rwp_tier *t, uint32_t slot, uint32_t n, void *buf,
		      size_t page_size)
{
	int ret = 0;

	/* injected failures count per page: they take the page by page path */
	if (n == 1 || !t->ops->load_seq || __atomic_load_n(&t->inject_count, __ATOMIC_RELAXED)) {
		for (uint32_t i = 0; !ret && i < n; i++)
			ret = rwp_tier_load(t, slot + i, (char *)buf + i * page_size, page_size);
		return ret;
	}
	ret = t->ops->load_seq(t, slot, n, buf, page_size);
	if (ret)
		t->errors++;
	else
		t->loads += n;
	return ret;
}

void rwp_tier_drop(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	t->ops->drop(t, slot, page_size);
	t->pages--;
	t->bytes -= page_size;
}

RWP_EXPORT void __rwp_tier_inject(struct rwp_tier *t, bool on_load, int err,
				  unsigned int count)
{
	pthread_mutex_lock(&t->inject_lock);
	t->inject_on_load = on_load;
	t->inject_err = err < 0 ? -err : err;
	t->inject_count = count;
	pthread_mutex_unlock(&t->inject_lock);
}

RWP_EXPORT const char *rwp_tier_name(const struct rwp_tier *t)
{
	return t ? t->name : "";
}

RWP_EXPORT void rwp_tier_free(struct rwp_tier *t)
{
	if (!t || t->attached)
		return;
	pthread_mutex_destroy(&t->inject_lock);
	t->ops->destroy(t);
}

/* Called by rwp_ctx_free() once every page is back. */
void rwp_tiers_free(struct rwp_ctx *ctx)
{
	for (unsigned int i = 0; i < ctx->nr_tiers; i++) {
		ctx->tiers[i]->attached = false;
		rwp_tier_free(ctx->tiers[i]);
	}
	ctx->nr_tiers = 0;
}

RWP_EXPORT int rwp_tier_attach(struct rwp_ctx *ctx, struct rwp_tier *t, unsigned int demote_age)
{
	int ret = 0;

	if (!ctx || !t || t->attached || demote_age > RWP_AGE_MAX)
		return -EINVAL;
	pthread_mutex_lock(&ctx->track_lock);
	if (ctx->nr_tiers == RWP_TIERS_MAX)
		ret = rwp_err(ctx, ENOSPC, "a context chains at most %d tiers", RWP_TIERS_MAX);
	if (!ret) {
		t->index = ctx->nr_tiers;
		t->demote_age = demote_age;
		ret = t->ops->bind ? t->ops->bind(t, ctx) : 0;
	}
	if (!ret) {
		t->attached = true;
		ctx->tiers[ctx->nr_tiers++] = t;
		rwp_log(ctx, RWP_LOG_INFO, "tier %u: %s", t->index, t->name);
	}
	pthread_mutex_unlock(&ctx->track_lock);
	return ret;
}
