// SPDX-License-Identifier: MIT
/*
 * Bulk installs for working-set replay and drain: runs of evicted pages are read into
 * one buffer (a single read for consecutive slots), installed with one UFFDIO_COPY per run without
 * waking, and the range is woken once at the end.
 */
#include "fetch.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

struct run {
	uint64_t first, n;
	ps_t was[256];
};

/*
 * Read the claimed pages of a run into buf. Pages in consecutive slots of one tier (an
 * image always; a file tier as eviction batches land) are one read.
 */
static int load_run(struct rwp_ctx *ctx, struct rwp_region *r, struct run *run, uint8_t *buf)
{
	for (uint64_t i = 0, j; i < run->n; i = j) {
		ps_t s = run->was[i];
		uint8_t *p = buf + (i << r->page_shift);
		int ret;

		j = i + 1;
		if (ps_kind(s) == PS_ZERO) {
			memset(p, 0, r->page_size);
			continue;
		}
		while (j < run->n && ps_kind(run->was[j]) == PS_STORED &&
		       ps_tier(run->was[j]) == ps_tier(s) &&
		       ps_slot(run->was[j]) == ps_slot(s) + (j - i))
			j++;
		ret = rwp_tier_load_seq(rwp_tier_of(ctx, r, s), ps_slot(s), j - i, p, r->page_size);
		if (ret)
			return ret;
	}
	return 0;
}

static int64_t finish_run(struct rwp_ctx *ctx, struct rwp_region *r, struct run *run,
			  uint8_t *buf)
{
	uint64_t mode = UFFDIO_COPY_MODE_DONTWAKE;
	int ret;

	if (!run->n)
		return 0;
	if (r->ops->id == RWP_BACKEND_WP_ASYNC)
		mode |= UFFDIO_COPY_MODE_WP;
	ret = load_run(ctx, r, run, buf);
	for (uint64_t done = 0; !ret && done < run->n;) {
		int n = rwp_uffd_copy(ctx->uffd, rwp_addr_of(r, run->first + done),
				      buf + (done << r->page_shift), (run->n - done) << r->page_shift,
				      mode);

		if (n == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (n == -EEXIST) {
			/* one page is there already (written through another mapping): skip it */
			done++;
			continue;
		}
		if (n < 0)
			ret = n;
		else
			done += (uint64_t)n >> r->page_shift;
	}
	for (uint64_t i = 0; i < run->n; i++) {
		_Atomic ps_t *st = &r->state[run->first + i];

		if (ret) {
			ps_release(st, run->was[i]);
			continue;
		}
		ps_release(st, PS_RESIDENT);
		if (ps_kind(run->was[i]) == PS_STORED)
			rwp_tier_drop(rwp_tier_of(ctx, r, run->was[i]), ps_slot(run->was[i]),
				      r->page_size);
		atomic_fetch_sub(&r->nonresident, 1);
		if (r->ops->ages_from_faults)
			rwp_ages_touch(r, run->first + i, false);
	}
	rwp_fault_thread_kick(ctx);
	return ret ? ret : (int64_t)run->n;
}

int64_t rwp_install_range(struct rwp_ctx *ctx, struct rwp_region *r, uint64_t first,
			  uint64_t n, uint8_t *buf, size_t buf_len)
{
	uint64_t max = buf_len >> r->page_shift;
	struct run run = { 0 };
	int64_t total = 0, ret;

	if (max > 256)
		max = 256;
	if (!r->state || !max)
		return 0;
	for (uint64_t pg = first; pg < first + n; pg++) {
		ps_t s = ps_load(&r->state[pg]);
		bool take = (ps_kind(s) == PS_STORED || ps_kind(s) == PS_ZERO) &&
			    ps_claim(&r->state[pg], s);

		if (run.n && (!take || run.n == max)) {
			ret = finish_run(ctx, r, &run, buf);
			if (ret < 0) {
				if (take)
					ps_release(&r->state[pg], s);
				return ret;
			}
			total += ret;
			run.n = 0;
		}
		if (!take)
			continue;
		if (!run.n)
			run.first = pg;
		run.was[run.n++] = s;
	}
	ret = finish_run(ctx, r, &run, buf);
	if (ret < 0)
		return ret;
	total += ret;
	if (total)
		rwp_uffd_wake(ctx->uffd, rwp_addr_of(r, first), n << r->page_shift);
	return total;
}

RWP_EXPORT int64_t rwp_drain(struct rwp_ctx *ctx)
{
	size_t buf_len = 2UL << 20;
	int64_t total = 0;
	uint8_t *buf;

	if (!ctx)
		return -EINVAL;
	buf = mmap(NULL, buf_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -ENOMEM;
	pthread_mutex_lock(&ctx->track_lock);
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];
		int64_t got;

		if (!r->state || atomic_load(&r->gone))
			continue;
		/* a page BUSY in a concurrent replay is installed by it: wait it out */
		do {
			got = rwp_install_range(ctx, r, 0, r->nr_pages, buf, buf_len);
			if (got > 0)
				total += got;
		} while (got >= 0 && atomic_load(&r->nonresident) && (sched_yield(), true));
		if (got < 0) {
			total = rwp_err(ctx, (int)-got, "drain of region %s: %d", r->name, (int)got);
			break;
		}
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	pthread_mutex_unlock(&ctx->track_lock);
	munmap(buf, buf_len);
	return total;
}
