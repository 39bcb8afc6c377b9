// SPDX-License-Identifier: MIT
/* Batches of claimed pages: store them down the chain, drop them, release them. */
#include "evict.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int rwp_punch(struct rwp_region *r, uint64_t first, uint64_t n)
{
	off_t off = r->offset + (off_t)(first << r->page_shift);

	if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
		      (off_t)(n << r->page_shift)))
		return -errno;
	return 0;
}

int rwp_batch_punch_run(struct rwp_batch *b, size_t from, size_t to, void *arg)
{
	int ret = rwp_punch(b->r, b->pg[from], to - from);

	(void)arg;
	for (size_t i = from; ret && i < to; i++)
		b->result[i] = ret;
	return 0;
}

int rwp_batch_runs(struct rwp_batch *b, bool (*want)(struct rwp_batch *b, size_t i),
		   int (*fn)(struct rwp_batch *b, size_t from, size_t to, void *arg), void *arg)
{
	for (size_t i = 0, j; i < b->n; i = j) {
		j = i + 1;
		if (!want(b, i))
			continue;
		while (j < b->n && want(b, j) && b->pg[j] == b->pg[j - 1] + 1)
			j++;
		int ret = fn(b, i, j, arg);

		if (ret)
			return ret;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t acc = 0;

	for (size_t i = 0; i < len / 8; i += 8) {
		acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] |
		       w[i + 7];
		if (acc)
			return false;
	}
	return true;
}

bool rwp_batch_claim(struct rwp_evictor *e, struct rwp_region *r, uint64_t pg, ps_t s)
{
	struct rwp_batch *b = &e->batch;
	struct stage_hdr *h = e->stage;
	size_t pos = b->n;

	/* written down before the claim: a crash between the two leaves an entry to ignore */
	h->region = r->index;
	h->pg[pos] = pg;
	h->status[pos] = ST_CLAIMED;
	__atomic_store_n(&h->n, pos + 1, __ATOMIC_RELEASE);
	if (!atomic_compare_exchange_strong(&r->state[pg], &s, ps_busy(PS_TIER_EVICTING, pos)))
		return false;
	b->r = r;
	b->pg[b->n++] = pg;
	return true;
}

void rwp_batch_store(struct rwp_evictor *e, struct rwp_batch *b)
{
	struct rwp_ctx *ctx = e->ctx;
	struct stage_hdr *h = e->stage;
	size_t idx[BATCH_BYTES / PAGE_4K], m = 0;
	struct rwp_store v[BATCH_BYTES / PAGE_4K];

	for (size_t i = 0; i < b->n; i++) {
		if (b->result[i])
			continue;
		if (all_zero(b->buf + i * b->r->page_size, b->r->page_size)) {
			b->to[i] = PS_ZERO_WORD;
			h->tier[i] = STAGE_ZERO_TIER;
			rwp_stage_set(e, i, ST_STORED);
			continue;
		}
		b->result[i] = -ENOSPC;
		idx[m++] = i;
	}
	/* each tier gets what the ones before it refused */
	for (unsigned int t = 0; t < ctx->nr_tiers && m; t++) {
		size_t left = 0;

		for (size_t k = 0; k < m; k++)
			v[k] = (struct rwp_store){ .data = b->buf + idx[k] * b->r->page_size };
		rwp_tier_store(ctx->tiers[t], v, m, b->r->page_size, t + 1 == ctx->nr_tiers);
		for (size_t k = 0; k < m; k++) {
			size_t i = idx[k];

			if (v[k].result) {
				b->result[i] = v[k].result;
				idx[left++] = i;
				continue;
			}
			b->result[i] = 0;
			b->to[i] = ps_stored(t, v[k].slot);
			h->tier[i] = t;
			h->slot[i] = v[k].slot;
			rwp_stage_set(e, i, ST_STORED);
		}
		m = left;
	}
}

static void undo_store(struct rwp_ctx *ctx, struct rwp_batch *b, size_t i)
{
	if (ps_kind(b->to[i]) == PS_STORED)
		rwp_tier_drop(ctx->tiers[ps_tier(b->to[i])], ps_slot(b->to[i]), b->r->page_size);
}

/*
 * A page the capture took out whose storing failed goes back into the guest. EAGAIN means
 * an address-space event is pending, which the fault thread drains: try again shortly.
 * EEXIST means another mapping of the file wrote the page meanwhile: that data is newer.
 */
static void put_back(struct rwp_evictor *e, struct rwp_batch *b, size_t i)
{
	int ret;

	for (int tries = 0; (ret = b->r->capture->restore(e, b, i)) == -EAGAIN && tries < 10000;
	     tries++)
		usleep(100);
	if (ret && ret != -EEXIST)
		rwp_log(e->ctx, RWP_LOG_ERR,
			"region %s page %llu: cannot put it back after a failed store: %s",
			b->r->name, (unsigned long long)b->pg[i], strerror(-ret));
}

void rwp_batch_commit(struct rwp_evictor *e, struct rwp_batch *b, struct rwp_evict_result *res)
{
	struct rwp_ctx *ctx = e->ctx;
	struct rwp_region *r = b->r;
	const struct rwp_capture_ops *cap = r->capture;
	bool took[BATCH_BYTES / PAGE_4K];
	uint64_t evicted = 0, zero = 0;

	/* which pages the capture took out of the guest (they must go back on failure) */
	for (size_t i = 0; i < b->n; i++) {
		took[i] = !b->result[i] && cap != &rwp_capture_hold;
		b->to[i] = 0;
	}
	rwp_batch_store(e, b);
	cap->drop(e, b); /* a page it could not drop gets a result and stays resident */
	for (size_t i = 0; i < b->n; i++) {
		_Atomic ps_t *st = &r->state[b->pg[i]];

		if (!b->result[i]) {
			evicted++;
			zero += b->to[i] == PS_ZERO_WORD;
			ps_release(st, b->to[i]);
			continue;
		}
		undo_store(ctx, b, i);
		if (took[i])
			put_back(e, b, i);
		res->kept++;
		if (b->result[i] != -EAGAIN && b->result[i] != -E2BIG && b->result[i] != -ENOSPC) {
			res->failed++;
			atomic_fetch_add(&ctx->cnt.evict_failures, 1);
		}
		ps_release(st, PS_RESIDENT);
	}
	atomic_fetch_add(&r->nonresident, evicted);
	atomic_fetch_add(&ctx->cnt.evicted_total, evicted);
	res->evicted += evicted;
	res->zero += zero;
	/* faults held on these pages are retried against their new state */
	rwp_fault_thread_kick(ctx);
	b->n = 0;
	__atomic_store_n(&e->stage->n, 0, __ATOMIC_RELEASE);
}
