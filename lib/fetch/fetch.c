// SPDX-License-Identifier: MIT
/*
 * MISSING faults: an evicted page comes back from its tier (UFFDIO_COPY), a zero page as
 * zeros, and a page nothing claims as zeros too (what the kernel would have given).
 * After the faulting page is installed and its thread woken, evicted neighbours are
 * installed without waking (spatial prefetch), then woken once.
 */
#include "fetch.h"

#include <errno.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>

#define HUGE_2M (2UL << 20)

int rwp_fetcher_init(struct rwp_fetcher *f)
{
	memset(f, 0, sizeof(*f));
	f->page = mmap(NULL, HUGE_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->nbr = mmap(NULL, PREFETCH_MAX * PAGE_4K, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->zero = mmap(NULL, HUGE_2M, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->page == MAP_FAILED || f->nbr == MAP_FAILED || f->zero == MAP_FAILED) {
		rwp_fetcher_destroy(f);
		return -ENOMEM;
	}
	return 0;
}

void rwp_fetcher_destroy(struct rwp_fetcher *f)
{
	if (f->page && f->page != MAP_FAILED)
		munmap(f->page, HUGE_2M);
	if (f->nbr && f->nbr != MAP_FAILED)
		munmap(f->nbr, PREFETCH_MAX * PAGE_4K);
	if (f->zero && f->zero != MAP_FAILED)
		munmap(f->zero, HUGE_2M);
	memset(f, 0, sizeof(*f));
}

struct rwp_tier *rwp_tier_of(struct rwp_ctx *ctx, struct rwp_region *r, ps_t s)
{
	unsigned int t = ps_tier(s);

	if (t == PS_TIER_IMAGE)
		return r->image;
	return t < ctx->nr_tiers ? ctx->tiers[t] : NULL;
}

static uint64_t copy_mode(const struct rwp_region *r)
{
	/* keep writes to a fetched page visible to write tracking */
	return r->ops->id == RWP_BACKEND_WP_ASYNC ? UFFDIO_COPY_MODE_WP : 0;
}

static int zero_fill(struct rwp_ctx *ctx, struct rwp_fetcher *f, struct rwp_region *r,
		     uintptr_t addr)
{
	if (r->mem == RWP_MEM_HUGETLB)
		return rwp_uffd_copy(ctx->uffd, addr, f->zero, r->page_size, copy_mode(r));
	if (r->ops->id == RWP_BACKEND_WP_ASYNC)
		return rwp_uffd_copy(ctx->uffd, addr, f->zero, r->page_size, copy_mode(r));
	return rwp_uffd_zeropage(ctx->uffd, addr, r->page_size);
}

static void accessed(struct rwp_ctx *ctx, struct rwp_region *r, uint64_t pg)
{
	if (r->ops->ages_from_faults)
		rwp_ages_touch(r, pg, false);
	(void)ctx;
}

/* A page the tiers do not hold: a hole the guest never filled, or discarded. */
static int serve_hole(struct rwp_ctx *ctx, struct rwp_fetcher *f, struct rwp_region *r,
		      uint64_t pg)
{
	uintptr_t addr = rwp_addr_of(r, pg);
	int ret;

	/* before the fill wakes the thread: a tick right after must see the access */
	accessed(ctx, r, pg);
	ret = zero_fill(ctx, f, r, addr);
	if (ret == -EEXIST)
		ret = rwp_uffd_wake(ctx->uffd, addr, r->page_size);
	return ret < 0 ? ret : 0;
}

/*
 * A prefetched page must not look accessed: installing it mapped it, so it is made to
 * trap again (zapped, or protected) until the guest really touches it. Only the pages
 * prefetched: a neighbour the guest touched this interval keeps its mark.
 */
static void rearm(struct rwp_ctx *ctx, struct rwp_region *r, uint64_t lo, const bool *got,
		  unsigned int n)
{
	struct iovec v[PREFETCH_MAX + 1];
	unsigned int nv = 0;

	for (unsigned int i = 0, j; i < n; i = j) {
		for (j = i + 1; got[i] && j < n && got[j]; j++)
			;
		if (got[i])
			v[nv++] = (struct iovec){ .iov_base = (void *)rwp_addr_of(r, lo + i),
						  .iov_len = (size_t)(j - i) << r->page_shift };
	}
	switch (r->ops->id) {
	case RWP_BACKEND_NATIVE:
		for (unsigned int i = 0; i < nv; i++)
			rwp_uffd_rwprotect(ctx->uffd, (uintptr_t)v[i].iov_base, v[i].iov_len,
					   UFFDIO_RWPROTECT_MODE_RWP);
		break;
	case RWP_BACKEND_WP_ASYNC:
	case RWP_BACKEND_MINOR:
		/* anon wp-async sees writes only, and the copy was write-protected */
		if (r->mem != RWP_MEM_ANON)
			rwp_zapv(ctx, v, nv); /* both sides of the fault: one round trip for rwpd */
		break;
	default:
		break;
	}
}

void rwp_fetch_prefetch(struct rwp_ctx *ctx, struct rwp_fetcher *f)
{
	struct rwp_region *r = f->around;
	uint64_t pg = f->around_pg;
	unsigned int w = ctx->fetch.no_prefetch ? 0 : ctx->fetch.prefetch;
	bool got[PREFETCH_MAX + 1] = { false };
	ps_t was[PREFETCH_MAX + 1];
	uint64_t lo, used = 0;

	f->around = NULL;
	if (!r || !w || r->page_size != PAGE_4K || atomic_load(&ctx->recorder))
		return;
	/*
	 * Re-arming by zapping would make this thread wait for itself to read the REMOVE
	 * event: with EVENT_REMOVE, zap-based backends go without prefetch.
	 */
	if (r->ops->id != RWP_BACKEND_NATIVE && r->mem != RWP_MEM_ANON &&
	    (ctx->features & UFFD_FEATURE_EVENT_REMOVE))
		return;
	if (w > PREFETCH_MAX / 2)
		w = PREFETCH_MAX / 2;
	lo = pg > w ? pg - w : 0;
	for (uint64_t n = lo; n <= pg + w && n < r->nr_pages; n++) {
		ps_t s;
		struct rwp_tier *t;
		uint8_t *buf = f->nbr + used * PAGE_4K;

		if (n == pg)
			continue;
		s = ps_load(&r->state[n]);
		t = rwp_tier_of(ctx, r, s);
		if (ps_kind(s) != PS_STORED || !t || !ps_claim(&r->state[n], s))
			continue;
		if (rwp_tier_load(t, ps_slot(s), buf, PAGE_4K) ||
		    rwp_uffd_copy(ctx->uffd, rwp_addr_of(r, n), buf, PAGE_4K,
				  copy_mode(r) | UFFDIO_COPY_MODE_DONTWAKE) < 0) {
			ps_release(&r->state[n], s);
			continue;
		}
		got[n - lo] = true;
		was[n - lo] = s;
		used++;
		atomic_fetch_sub(&r->nonresident, 1);
		atomic_fetch_add(&ctx->cnt.prefetched, 1);
	}
	if (!used)
		return;
	/* re-arm the runs, then publish: a fault on one meanwhile waits on BUSY */
	rearm(ctx, r, lo, got, 2 * w + 1);
	/* the old copy goes only once the map no longer names it */
	for (uint64_t i = 0; i <= 2 * w; i++) {
		if (!got[i])
			continue;
		ps_release(&r->state[lo + i], PS_RESIDENT | PS_PREFETCHED);
		rwp_tier_drop(rwp_tier_of(ctx, r, was[i]), ps_slot(was[i]), PAGE_4K);
	}
	/* a thread that faulted on a neighbour meanwhile is waiting */
	rwp_uffd_wake(ctx->uffd, rwp_addr_of(r, lo),
		      ((pg + w < r->nr_pages ? pg + w + 1 : r->nr_pages) - lo) * PAGE_4K);
}

int rwp_fetch_missing(struct rwp_ctx *ctx, struct rwp_fetcher *f, struct rwp_region *r,
		      uint64_t pg)
{
	uintptr_t addr = rwp_addr_of(r, pg);
	struct rwp_tier *t;
	ps_t s;
	int ret;

	if (!r->state)
		return serve_hole(ctx, f, r, pg);
	s = ps_load(&r->state[pg]);
	switch (ps_kind(s)) {
	case PS_RESIDENT:
		return serve_hole(ctx, f, r, pg);
	case PS_BUSY:
		return -EBUSY;
	case PS_ZERO:
		if (!ps_claim(&r->state[pg], s))
			return -EBUSY;
		/* counted before the wake, so that the woken thread sees the page home */
		atomic_fetch_sub(&r->nonresident, 1);
		accessed(ctx, r, pg);
		/* noted before the wake: a recording stopped right after still has it */
		rwp_record_note(ctx, r, pg);
		ret = zero_fill(ctx, f, r, addr);
		if (ret == -EEXIST)
			ret = rwp_uffd_wake(ctx->uffd, addr, r->page_size);
		if (ret < 0) {
			atomic_fetch_add(&r->nonresident, 1);
			ps_release(&r->state[pg], s);
			return ret;
		}
		ps_release(&r->state[pg], PS_RESIDENT);
		atomic_fetch_add(&ctx->cnt.fetched_zero, 1);
		break;
	default: /* PS_STORED */
		t = rwp_tier_of(ctx, r, s);
		if (!t)
			return -EIO;
		if (!ps_claim(&r->state[pg], s))
			return -EBUSY;
		ret = rwp_tier_load(t, ps_slot(s), f->page, r->page_size);
		if (ret) {
			ps_release(&r->state[pg], s);
			return -EIO;
		}
		atomic_fetch_sub(&r->nonresident, 1);
		accessed(ctx, r, pg);
		rwp_record_note(ctx, r, pg);
		ret = rwp_uffd_copy(ctx->uffd, addr, f->page, r->page_size, copy_mode(r));
		/* EEXIST: written through another mapping of the file meanwhile, that is newer */
		if (ret == -EEXIST)
			ret = rwp_uffd_wake(ctx->uffd, addr, r->page_size);
		if (ret < 0) {
			atomic_fetch_add(&r->nonresident, 1);
			ps_release(&r->state[pg], s);
			return ret;
		}
		ps_release(&r->state[pg], PS_RESIDENT);
		rwp_tier_drop(t, ps_slot(s), r->page_size);
		f->around = r;
		f->around_pg = pg;
		break;
	}
	rwp_refault_note(ctx);
	atomic_fetch_add(&ctx->cnt.fetched, 1);
	return 0;
}

int rwp_fetch_poison(struct rwp_ctx *ctx, struct rwp_region *r, uint64_t pg)
{
	uintptr_t addr = rwp_addr_of(r, pg);
	int ret = rwp_uffd_poison(ctx->uffd, addr, r->page_size);

	/* a write-protect marker is in the way: poison wants an empty PTE */
	if (ret == -EEXIST && r->ops->id == RWP_BACKEND_WP_ASYNC) {
		rwp_uffd_writeprotect(ctx->uffd, addr, r->page_size, UFFDIO_WRITEPROTECT_MODE_DONTWAKE);
		ret = rwp_uffd_poison(ctx->uffd, addr, r->page_size);
	}

	if (ret < 0) {
		rwp_log(ctx, RWP_LOG_ERR, "region %s page %llu: cannot poison it: %s", r->name,
			(unsigned long long)pg, strerror(-ret));
		return ret;
	}
	atomic_fetch_add(&ctx->cnt.poisoned, 1);
	rwp_log(ctx, RWP_LOG_ERR,
		"region %s page %llu: its tier cannot read it back; poisoned (SIGBUS on access)",
		r->name, (unsigned long long)pg);
	return 0;
}
