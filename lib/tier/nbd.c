// SPDX-License-Identifier: MIT
/*
 * Remote tier on an NBD export through libnbd. A failed request drops the connection;
 * the next one reconnects, so a server that restarts loses nothing: the pages it held are
 * on its disk, and while it is away stores fail (pages stay resident) and loads are retried
 * by the fetch path.
 */
#include "tier.h"
#include "slots.h"
#include "../opts.h"

#include <errno.h>
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT 4096u

struct nbdtier {
	struct rwp_tier tier;
	pthread_mutex_t lock; /* the connection and the slot map */
	char *uri;
	struct nbd_handle *h;
	unsigned int retries;
	struct rwp_slots slots;
	uint64_t size;
};

static struct nbdtier *to_nbd(struct rwp_tier *t)
{
	return (struct nbdtier *)t;
}

static void disconnect(struct nbdtier *n)
{
	if (n->h)
		nbd_close(n->h);
	n->h = NULL;
}

static int connect_nbd(struct nbdtier *n)
{
	int64_t size;

	if (n->h)
		return 0;
	n->h = nbd_create();
	if (!n->h)
		return -ENOMEM;
	if (nbd_connect_uri(n->h, n->uri) == -1 || (size = nbd_get_size(n->h)) < 0) {
		int err = nbd_get_errno() ?: EIO;

		disconnect(n);
		return -err;
	}
	if (n->size && (uint64_t)size < n->size) {
		/* a smaller export after a reconnect would lose slots: refuse it */
		disconnect(n);
		return -EIO;
	}
	n->size = size;
	return 0;
}

/* Run one request, reconnecting and retrying on failure. */
static int request(struct nbdtier *n, bool write, void *buf, size_t len, uint64_t off)
{
	int ret = -EIO;

	for (unsigned int attempt = 0; attempt <= n->retries; attempt++) {
		ret = connect_nbd(n);
		if (ret)
			continue;
		if (write)
			ret = nbd_pwrite(n->h, buf, len, off, 0);
		else
			ret = nbd_pread(n->h, buf, len, off, 0);
		if (ret != -1)
			return 0;
		ret = -(nbd_get_errno() ?: EIO);
		disconnect(n);
	}
	return ret;
}

static int nbd_store(struct rwp_tier *t, struct rwp_store *v, size_t cnt, size_t page_size,
		     bool last)
{
	struct nbdtier *n = to_nbd(t);
	unsigned int units = page_size / UNIT;
	int ret;

	pthread_mutex_lock(&n->lock);
	ret = connect_nbd(n);
	pthread_mutex_unlock(&n->lock);

	(void)last;
	if (ret) {
		for (size_t i = 0; i < cnt; i++)
			v[i].result = ret;
		return 0;
	}
	/* page by page, so that a fault's load can slip in between */
	for (size_t i = 0; i < cnt; i++) {
		pthread_mutex_lock(&n->lock);
		int64_t u = rwp_slots_alloc(&n->slots, units);

		if (u < 0) {
			v[i].result = (int)u;
		} else {
			v[i].slot = u / units;
			v[i].result = request(n, true, (void *)v[i].data, page_size,
					      (uint64_t)u * UNIT);
			if (v[i].result)
				rwp_slots_free(&n->slots, u, units);
		}
		pthread_mutex_unlock(&n->lock);
	}
	return 0;
}

static int nbd_load(struct rwp_tier *t, uint32_t slot, void *page, size_t page_size)
{
	struct nbdtier *n = to_nbd(t);
	int ret;

	pthread_mutex_lock(&n->lock);
	ret = request(n, false, page, page_size, (uint64_t)slot * page_size);
	pthread_mutex_unlock(&n->lock);
	return ret;
}

static void nbd_drop(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	struct nbdtier *n = to_nbd(t);

	pthread_mutex_lock(&n->lock);
	rwp_slots_free(&n->slots, (uint64_t)slot * (page_size / UNIT), page_size / UNIT);
	pthread_mutex_unlock(&n->lock);
}

/* Recovery: a page a predecessor stored stays where it is; new pages go around it. */
static void nbd_recover_mark(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	struct nbdtier *n = to_nbd(t);

	pthread_mutex_lock(&n->lock);
	rwp_slots_mark(&n->slots, (uint64_t)slot * (page_size / UNIT), page_size / UNIT);
	pthread_mutex_unlock(&n->lock);
}

static uint64_t nbd_used(struct rwp_tier *t)
{
	(void)t;
	return 0; /* remote: costs the host no memory or disk */
}

static void nbd_destroy(struct rwp_tier *t)
{
	struct nbdtier *n = to_nbd(t);

	disconnect(n);
	rwp_slots_destroy(&n->slots);
	pthread_mutex_destroy(&n->lock);
	free(n->uri);
	free(n);
}

static const struct rwp_tier_ops nbd_ops = {
	.name = "nbd",
	.store = nbd_store,
	.load = nbd_load,
	.drop = nbd_drop,
	.used_bytes = nbd_used,
	.destroy = nbd_destroy,
	.recover_mark = nbd_recover_mark,
};

RWP_EXPORT int rwp_tier_nbd_new(const struct rwp_tier_nbd_opts *opts, struct rwp_tier **out)
{
	const char *uri = OPTS_GET(opts, uri, NULL);
	struct nbdtier *n;
	int ret;

	if (!out || !uri || !OPTS_VALID(opts, rwp_tier_nbd_opts))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->uri = strdup(uri))) {
		free(n);
		return -ENOMEM;
	}
	n->retries = OPTS_GET(opts, retries, 0) ?: 3;
	pthread_mutex_init(&n->lock, NULL);
	ret = connect_nbd(n);
	if (ret) {
		nbd_destroy(&n->tier);
		return ret;
	}
	/* 4 KiB units; the state word's slot field bounds them */
	rwp_slots_init(&n->slots, n->size / UNIT > (uint64_t)PS_SLOT_MAX + 1
					  ? (uint64_t)PS_SLOT_MAX + 1
					  : n->size / UNIT);
	rwp_tier_init(&n->tier, &nbd_ops, "nbd");
	*out = &n->tier;
	return 0;
}
