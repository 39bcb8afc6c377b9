// SPDX-License-Identifier: MIT
/*
 * Taking over from a dead owner (rwp_ctx_recover()): finish the eviction batch it left in
 * the staging area, settle pages it left BUSY, rebuild what the tiers hold from the page
 * maps, and wake every thread that was waiting for it.
 */
#include "evict.h"
#include "../fetch/fetch.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct rwp_region *region_by_index(struct rwp_ctx *ctx, int index)
{
	for (size_t i = 0; i < ctx->nr_regions; i++)
		if (ctx->regions[i]->index == index)
			return ctx->regions[i];
	return NULL;
}

/*
 * Pages still in the pipe go to their staging positions, in splice order. They are
 * punched out of the guest first, as the live path does: the pipe holds the live page,
 * so what is drained after the punch has every write made before it.
 *
 * The pipe's contents are the truth; a status may be one step behind it. Pages go in and
 * come out in position order, and draining starts only once every splice is done: while a
 * page is SPLICING nothing was drained and the pipe holds positions [0, in_pipe);
 * otherwise it holds the last in_pipe of the pages that were spliced.
 */
static int drain_pipe(struct rwp_evictor *e, struct rwp_region *r)
{
	struct stage_hdr *h = e->stage;
	uint32_t in_pipe, first, end = 0;
	bool splicing = false;
	int bytes = 0;

	if (ioctl(e->pipe[0], FIONREAD, &bytes) || bytes < 0)
		return -errno;
	in_pipe = bytes / r->page_size;
	for (uint32_t i = 0; i < h->n; i++) {
		splicing |= h->status[i] == ST_SPLICING;
		if (h->status[i] >= ST_SPLICED && h->status[i] <= ST_CAPTURED)
			end = i + 1;
	}
	if (splicing)
		end = in_pipe;
	if (end > h->n || end < in_pipe)
		return -EIO;
	first = end - in_pipe;
	for (uint32_t i = 0; i < first; i++)
		if (h->status[i] == ST_SPLICED || h->status[i] == ST_DRAINING)
			h->status[i] = ST_CAPTURED; /* left the pipe before the crash */
	for (uint32_t i = first; i < end; i++) {
		int ret = rwp_punch(r, h->pg[i], 1);

		if (ret)
			return ret;
	}
	for (uint32_t i = first; i < end; i++) {
		int ret = rwp_pipe_drain_page(e, i, r->page_size);

		if (ret)
			return ret;
		h->status[i] = ST_CAPTURED;
	}
	/* a page spliced only in part never left the guest: drop the bytes */
	for (bytes %= r->page_size; bytes > 0;) {
		char sink[512];
		ssize_t n = read(e->pipe[0], sink, bytes < 512 ? bytes : 512);

		if (n <= 0)
			break;
		bytes -= n;
	}
	return 0;
}

/*
 * Finish the batch the staging area holds, in place (a successor that dies in here
 * leaves the same staging area to the next one). Returns pages settled.
 */
static int64_t finish_batch(struct rwp_evictor *e)
{
	struct rwp_ctx *ctx = e->ctx;
	struct stage_hdr *h = e->stage;
	struct rwp_batch *b = &e->batch;
	struct rwp_region *r;
	int64_t settled = 0;
	bool ours[STAGE_MAX];
	int ret;

	if (!h->n)
		return 0;
	r = region_by_index(ctx, h->region);
	if (!r || !r->state || h->n > STAGE_MAX)
		return rwp_err(ctx, ENOENT, "recover: the staged batch is from region %d, which "
					    "is not registered", h->region);
	if (r->capture == &rwp_capture_splice && (ret = drain_pipe(e, r)))
		return rwp_err(ctx, -ret, "recover: draining the eviction pipe: %d", ret);
	b->r = r;
	b->n = h->n;
	for (uint32_t i = 0; i < h->n; i++) {
		uint64_t pg = h->pg[i];

		/* only entries whose claim went through are this batch's */
		ours[i] = pg < r->nr_pages && ps_load(&r->state[pg]) == ps_busy(PS_TIER_EVICTING, i);
		b->pg[i] = pg;
		b->to[i] = 0;
		b->result[i] = -EAGAIN; /* not captured: it never left the guest */
		if (!ours[i])
			continue;
		settled++;
		if (h->status[i] == ST_CAPTURED)
			b->result[i] = 0;
		else if (h->status[i] == ST_STORED)
			b->result[i] = 1; /* stored already: rwp_batch_store() skips it */
	}
	rwp_batch_store(e, b);
	for (uint32_t i = 0; i < h->n; i++) {
		_Atomic ps_t *st = &r->state[b->pg[i]];
		int err;

		if (!ours[i])
			continue;
		if (b->result[i] == 1) {
			b->result[i] = 0;
			b->to[i] = h->tier[i] == STAGE_ZERO_TIER ? PS_ZERO_WORD
							       : ps_stored(h->tier[i], h->slot[i]);
		}
		if (b->result[i] == -EAGAIN) {
			ps_release(st, PS_RESIDENT);
			continue;
		}
		if (!b->result[i]) {
			/* punched again: for a held capture the punch may not have happened yet */
			err = rwp_punch(r, b->pg[i], 1);
			if (!err) {
				ps_release(st, b->to[i]);
				continue;
			}
			/* still in the guest: the stored copy goes */
			if (ps_kind(b->to[i]) == PS_STORED)
				rwp_tier_drop(ctx->tiers[ps_tier(b->to[i])], ps_slot(b->to[i]),
					      r->page_size);
			ps_release(st, PS_RESIDENT);
			continue;
		}
		/* captured, but no tier takes it now: put it back */
		err = rwp_uffd_copy(ctx->uffd, rwp_addr_of(r, b->pg[i]), b->buf + i * r->page_size,
				    r->page_size, UFFDIO_COPY_MODE_DONTWAKE);
		if (err < 0 && err != -EEXIST)
			rwp_log(ctx, RWP_LOG_ERR, "recover: region %s page %llu lost: %d", r->name,
				(unsigned long long)b->pg[i], err);
		ps_release(st, PS_RESIDENT);
	}
	b->n = 0;
	h->n = 0;
	return settled;
}

/*
 * A page left BUSY outside the batch: a fetch, demotion or eviction claim caught
 * half-way. The page still has its old home; whether it also got into the guest is told
 * by trying to put it there.
 */
static int64_t settle_region(struct rwp_ctx *ctx, struct rwp_region *r, uint8_t *buf)
{
	int64_t settled = 0;

	for (uint64_t pg = 0; pg < r->nr_pages; pg++) {
		_Atomic ps_t *st = &r->state[pg];
		ps_t s = ps_load(st);
		unsigned int t = ps_tier(s);

		if (ps_kind(s) != PS_BUSY)
			continue;
		settled++;
		if (t == PS_TIER_EVICTING) {
			ps_release(st, PS_RESIDENT); /* claimed, never captured */
			continue;
		}
		ps_release(st, t == PS_TIER_WAS_ZERO ? PS_ZERO_WORD : ps_stored(t, ps_slot(s)));
		if (rwp_install_range(ctx, r, pg, 1, buf, 2UL << 20) < 0)
			rwp_log(ctx, RWP_LOG_WARN, "recover: region %s page %llu stays evicted",
				r->name, (unsigned long long)pg);
	}
	return settled;
}

static void mark_slot(struct rwp_ctx *ctx, unsigned int tier, uint32_t slot, size_t page_size)
{
	struct rwp_tier *t = tier < ctx->nr_tiers ? ctx->tiers[tier] : NULL;

	if (t && t->ops->recover_mark)
		t->ops->recover_mark(t, slot, page_size);
}

/*
 * Tell the tiers which slots hold pages: those the page maps name (stored, or the old
 * home of a page caught BUSY) and those of the staged batch already stored. The rest are
 * leftovers of stores the predecessor never recorded; the tiers may reuse or free them.
 */
static void mark_slots(struct rwp_ctx *ctx, struct rwp_evictor *e)
{
	struct stage_hdr *h = e->stage;
	struct rwp_region *r = h->n ? region_by_index(ctx, h->region) : NULL;

	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *rr = ctx->regions[i];

		for (uint64_t pg = 0; rr->state && pg < rr->nr_pages; pg++) {
			ps_t s = ps_load(&rr->state[pg]);

			if (ps_kind(s) == PS_STORED || ps_kind(s) == PS_BUSY)
				mark_slot(ctx, ps_tier(s), ps_slot(s), rr->page_size);
		}
	}
	for (uint32_t i = 0; r && r->state && h->n <= STAGE_MAX && i < h->n; i++)
		if (h->status[i] == ST_STORED && h->tier[i] != STAGE_ZERO_TIER)
			mark_slot(ctx, h->tier[i], h->slot[i], r->page_size);
	for (unsigned int t = 0; t < ctx->nr_tiers; t++) {
		struct rwp_tier *tier = ctx->tiers[t];
		uint64_t freed = tier->ops->recover_done ? tier->ops->recover_done(tier) : 0;

		if (freed)
			rwp_log(ctx, RWP_LOG_INFO, "recover: tier %s: %llu unreferenced slots freed",
				tier->name, (unsigned long long)freed);
	}
}

/* What the tiers hold and the region lacks, for rwp_stats() and the policy. */
static void count_evicted(struct rwp_ctx *ctx, struct rwp_region *r)
{
	uint64_t nonres = 0;

	for (uint64_t pg = 0; r->state && pg < r->nr_pages; pg++) {
		ps_t s = ps_load(&r->state[pg]);

		nonres += ps_kind(s) != PS_RESIDENT;
		if (ps_kind(s) != PS_STORED || ps_tier(s) >= ctx->nr_tiers)
			continue;
		ctx->tiers[ps_tier(s)]->pages++;
		ctx->tiers[ps_tier(s)]->bytes += r->page_size;
	}
	if (r->state)
		atomic_store(&r->nonresident, nonres);
}

RWP_EXPORT int64_t rwp_ctx_recover(struct rwp_ctx *ctx)
{
	struct rwp_evictor *e;
	int64_t settled = 0, n;
	uint8_t *buf;
	int ret;

	if (!ctx)
		return -EINVAL;
	buf = mmap(NULL, 2UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -ENOMEM;
	pthread_mutex_lock(&ctx->track_lock);
	pthread_rwlock_rdlock(&ctx->regions_lock);
	/* a predecessor frozen for eviction: back to async, which also wakes the waiting */
	if (ctx->features & UFFD_FEATURE_RWP_ASYNC)
		rwp_uffd_set_mode(ctx->uffd, UFFD_FEATURE_RWP_ASYNC, 0);
	ret = rwp_evictor_get(ctx, &e);
	/* before anything is stored again: the slots in use must not be handed out twice */
	if (!ret)
		mark_slots(ctx, e);
	if (!ret) {
		n = finish_batch(e);
		if (n < 0)
			ret = (int)n;
		else
			settled += n;
	}
	for (size_t i = 0; !ret && i < ctx->nr_regions; i++)
		if (ctx->regions[i]->state)
			settled += settle_region(ctx, ctx->regions[i], buf);
	for (size_t i = 0; !ret && i < ctx->nr_regions; i++)
		count_evicted(ctx, ctx->regions[i]);
	/* threads the old owner read faults from wait for a wake that never came */
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];

		if (!atomic_load(&r->gone))
			rwp_uffd_wake(ctx->uffd, r->addr, r->len);
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	pthread_mutex_unlock(&ctx->track_lock);
	/* held faults go now, against settled state */
	atomic_store(&ctx->recovering, false);
	rwp_fault_thread_kick(ctx);
	munmap(buf, 2UL << 20);
	return ret ? ret : settled;
}
