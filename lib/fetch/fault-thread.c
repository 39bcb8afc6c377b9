// SPDX-License-Identifier: MIT
/*
 * The fault thread: one per context, epoll over the uffd, a stop eventfd and a kick
 * eventfd. It resolves the faults tracking raises (MINOR, sync RWP), serves MISSING
 * faults from the tiers, and follows the events that change the address space.
 *
 * A fault it cannot resolve now is parked, never left blocked in the kernel for good:
 *   AGAIN   an event is pending (the resolving ioctl said EAGAIN): retry after draining;
 *   HELD    the page is BUSY (being evicted or fetched): retry when kicked;
 *   FAILING its tier cannot read it: retry with backoff, then poison it.
 */
#include "fetch.h"
#include "../track/scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MSG_BATCH 64
#define PARKED_MAX 4096

enum park { PARK_AGAIN, PARK_HELD, PARK_FAILING };

struct parked {
	struct uffd_msg msg;
	uint64_t t_read;	/* when the message was read, for its latency */
	uint64_t t_first_fail;
	uint64_t retry_at;
	uint32_t tries;
	uint8_t why;
};

struct fault_thread {
	struct rwp_ctx *ctx;
	struct rwp_fetcher fetcher;
	struct parked parked[PARKED_MAX];
	size_t nr_parked;
};

static bool is_tracking_fault(uint64_t flags)
{
	return flags & (UFFD_PAGEFAULT_FLAG_MINOR | UFFD_PAGEFAULT_FLAG_RWP |
			UFFD_PAGEFAULT_FLAG_WP);
}

static void count_fault(struct rwp_ctx *ctx, uint64_t flags)
{
	if (flags & UFFD_PAGEFAULT_FLAG_MINOR)
		atomic_fetch_add(&ctx->cnt.faults_minor, 1);
	else if (flags & UFFD_PAGEFAULT_FLAG_RWP)
		atomic_fetch_add(&ctx->cnt.faults_rwp, 1);
	else if (!(flags & UFFD_PAGEFAULT_FLAG_WP))
		atomic_fetch_add(&ctx->cnt.faults_missing, 1);
}

/*
 * One page fault, read at t_read. Returns 0 when resolved, or -EBUSY/-EAGAIN/-EIO to park
 * it. A fetch from the tiers records its latency.
 */
static int handle_pagefault(struct fault_thread *ft, const struct uffd_msg *msg, uint64_t t_read)
{
	struct rwp_ctx *ctx = ft->ctx;
	uintptr_t addr = msg->arg.pagefault.address;
	uint64_t flags = msg->arg.pagefault.flags;
	struct rwp_region *r;
	uint64_t pg;
	int ret;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	r = rwp_region_find_locked(ctx, addr);
	if (!r || atomic_load(&r->gone)) {
		/* unregistered meanwhile: let the thread retry against the new state */
		pthread_rwlock_unlock(&ctx->regions_lock);
		rwp_uffd_wake(ctx->uffd, addr & ~(PAGE_4K - 1), PAGE_4K);
		return 0;
	}
	pg = rwp_page_of(r, addr);
	/* a predecessor's half-done moves are not settled yet */
	if (r->state && atomic_load(&ctx->recovering)) {
		ret = -EBUSY;
		goto out;
	}
	/*
	 * A lazy region's owner may run before its image is attached (a Firecracker guest
	 * resumes as it hands over): its untouched pages are not holes, they wait.
	 */
	if ((r->flags & RWP_REGION_LAZY) && !atomic_load(&r->image_ready)) {
		ret = -EBUSY;
		goto out;
	}
	if (r->state && is_tracking_fault(flags)) {
		ps_t s = ps_load(&r->state[pg]);

		if (ps_kind(s) == PS_BUSY) {
			ret = -EBUSY;
			goto out;
		}
		if (ps_kind(s) != PS_RESIDENT) {
			/* evicted since: the retried access is a MISSING fault */
			ret = rwp_uffd_wake(ctx->uffd, rwp_addr_of(r, pg), r->page_size);
			goto out;
		}
	}
	if (is_tracking_fault(flags)) {
		ret = r->ops->fault(r, msg, pg);
	} else {
		bool fetch = r->state && ps_kind(ps_load(&r->state[pg])) != PS_RESIDENT;

		ret = rwp_fetch_missing(ctx, &ft->fetcher, r, pg);
		/* the faulting thread runs again: its latency ends here, before any prefetch */
		if (!ret && fetch)
			rwp_latency_add(ctx->latency, rwp_now_ns() - t_read);
		rwp_fetch_prefetch(ctx, &ft->fetcher);
	}
out:
	pthread_rwlock_unlock(&ctx->regions_lock);
	return ret;
}

/* Pages of anon regions that the owner discarded are zeros now: forget their copies. */
static void discard(struct rwp_ctx *ctx, uintptr_t start, uintptr_t end)
{
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (size_t i = 0; i < ctx->nr_regions; i++) {
		struct rwp_region *r = ctx->regions[i];
		uintptr_t s = start > r->addr ? start : r->addr;
		uintptr_t e = end < r->addr + r->len ? end : r->addr + r->len;

		if (!r->state || r->mem != RWP_MEM_ANON || s >= e)
			continue;
		for (uint64_t pg = rwp_page_of(r, s); pg < rwp_page_of(r, e); pg++) {
			ps_t st = ps_load(&r->state[pg]);

			if (ps_kind(st) != PS_STORED && ps_kind(st) != PS_ZERO)
				continue;
			if (!ps_claim(&r->state[pg], st))
				continue;
			if (ps_kind(st) == PS_STORED)
				rwp_tier_drop(rwp_tier_of(ctx, r, st), ps_slot(st), r->page_size);
			atomic_fetch_sub(&r->nonresident, 1);
			ps_release(&r->state[pg], PS_RESIDENT);
		}
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
}

static int handle_msg(struct fault_thread *ft, const struct uffd_msg *msg, uint64_t t_read)
{
	struct rwp_ctx *ctx = ft->ctx;

	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT:
		return handle_pagefault(ft, msg, t_read);
	case UFFD_EVENT_FORK:
		/* the child's copy of the registration: closing it restores normal access */
		close((int)msg->arg.fork.ufd);
		return 0;
	case UFFD_EVENT_REMAP:
		rwp_region_moved(ctx, msg->arg.remap.from, msg->arg.remap.to, msg->arg.remap.len);
		return 0;
	case UFFD_EVENT_UNMAP:
		rwp_region_mark_gone(ctx, msg->arg.remove.start, msg->arg.remove.end,
				     "was unmapped");
		return 0;
	case UFFD_EVENT_REMOVE:
		/*
		 * MADV_DONTNEED/REMOVE. Shared memory keeps its data on DONTNEED (our own zaps
		 * are these) and the two cannot be told apart: nothing to do. Private anon
		 * memory reads as zeros afterwards, evicted pages included.
		 */
		discard(ctx, msg->arg.remove.start, msg->arg.remove.end);
		/* -EAGAIN until the dropping thread runs on: parked, then retried */
		return rwp_native_removed(ctx, msg->arg.remove.start, msg->arg.remove.end);
	default:
		rwp_log(ctx, RWP_LOG_WARN, "unexpected uffd event %u", msg->event);
		return 0;
	}
}

static void park(struct fault_thread *ft, const struct parked *p)
{
	if (ft->nr_parked < PARKED_MAX) {
		ft->parked[ft->nr_parked++] = *p;
		return;
	}
	/* full (more blocked threads than slots): let this one fault again later */
	if (p->msg.event == UFFD_EVENT_PAGEFAULT)
		rwp_uffd_wake(ft->ctx->uffd, p->msg.arg.pagefault.address & ~(PAGE_4K - 1), PAGE_4K);
}

static uint64_t backoff_ns(uint32_t tries)
{
	uint64_t ms = 1ULL << (tries < 10 ? tries : 10); /* 2 ms .. 1 s */

	return ms * 1000000ULL;
}

/* A tier read keeps failing: retry with backoff until the budget is spent, then poison. */
static void failing(struct fault_thread *ft, struct parked *p)
{
	struct rwp_ctx *ctx = ft->ctx;
	uint64_t now = rwp_now_ns();
	uintptr_t addr = p->msg.arg.pagefault.address;

	if (!p->tries++) {
		p->t_first_fail = now;
		atomic_fetch_add(&ctx->cnt.fetch_errors, 1);
	}
	if (p->tries <= ctx->fetch.retries &&
	    now - p->t_first_fail < (uint64_t)ctx->fetch.timeout_ms * 1000000ULL) {
		p->why = PARK_FAILING;
		p->retry_at = now + backoff_ns(p->tries);
		park(ft, p);
		return;
	}
	pthread_rwlock_rdlock(&ctx->regions_lock);
	struct rwp_region *r = rwp_region_find_locked(ctx, addr);
	int ret = r ? rwp_fetch_poison(ctx, r, rwp_page_of(r, addr)) : 0;

	pthread_rwlock_unlock(&ctx->regions_lock);
	if (ret) {
		/* not even poison: keep the thread waiting and keep trying, never zero-fill */
		p->why = PARK_FAILING;
		p->retry_at = now + backoff_ns(10);
		park(ft, p);
	}
}

static void dispatch(struct fault_thread *ft, struct parked *p)
{
	struct rwp_ctx *ctx = ft->ctx;
	const struct uffd_msg *msg = &p->msg;
	int ret = handle_msg(ft, msg, p->t_read);

	switch (ret) {
	case 0:
		return;
	case -EAGAIN:
		p->why = PARK_AGAIN;
		park(ft, p);
		return;
	case -EBUSY:
		if (p->why != PARK_HELD)
			atomic_fetch_add(&ctx->cnt.faults_held, 1);
		p->why = PARK_HELD;
		park(ft, p);
		return;
	case -EIO:
		failing(ft, p);
		return;
	case -ESRCH:
	case -ENOSPC:
		return; /* the process is exiting */
	}
	rwp_log(ctx, RWP_LOG_ERR, "fault at %#llx (flags %#llx): %s",
		(unsigned long long)msg->arg.pagefault.address,
		(unsigned long long)msg->arg.pagefault.flags, strerror(-ret));
	/* never leave a thread blocked: it faults again and we try again */
	if (msg->event == UFFD_EVENT_PAGEFAULT)
		rwp_uffd_wake(ctx->uffd, msg->arg.pagefault.address & ~(PAGE_4K - 1), PAGE_4K);
}

/* Read every queued message; returns how many, or -errno on a fatal read error. */
static int drain(struct fault_thread *ft)
{
	struct rwp_ctx *ctx = ft->ctx;
	struct uffd_msg msgs[MSG_BATCH];
	int total = 0;

	for (;;) {
		ssize_t n = read(ctx->uffd, msgs, sizeof(msgs));
		uint64_t now = rwp_now_ns();

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return total;
			return -errno;
		}
		if (n == 0 || n % sizeof(msgs[0]))
			return -EIO; /* a short read is fatal */
		for (size_t i = 0; i < n / sizeof(msgs[0]); i++) {
			struct parked p = { .msg = msgs[i], .t_read = now };

			if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				count_fault(ctx, msgs[i].arg.pagefault.flags);
			dispatch(ft, &p);
		}
		total += n / sizeof(msgs[0]);
	}
}

/* Retry what is due; returns the epoll timeout until the next retry (-1: none). */
static int retry_parked(struct fault_thread *ft)
{
	size_t n = ft->nr_parked;
	uint64_t now = rwp_now_ns(), next = UINT64_MAX;
	struct parked *copy;

	if (!n)
		return -1;
	copy = malloc(n * sizeof(*copy));
	if (!copy)
		return 1;
	memcpy(copy, ft->parked, n * sizeof(*copy));
	ft->nr_parked = 0;
	for (size_t i = 0; i < n; i++) {
		if (copy[i].why == PARK_FAILING && copy[i].retry_at > now) {
			park(ft, &copy[i]);
			continue;
		}
		dispatch(ft, &copy[i]);
	}
	free(copy);
	for (size_t i = 0; i < ft->nr_parked; i++) {
		uint64_t at = ft->parked[i].why == PARK_FAILING ? ft->parked[i].retry_at : now + 1000000;

		next = at < next ? at : next;
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

static void *fault_thread(void *arg)
{
	struct fault_thread *ft = arg;
	struct rwp_ctx *ctx = ft->ctx;
	int timeout = -1;

	for (;;) {
		struct epoll_event ev[3];
		int n = epoll_wait(ctx->epfd, ev, 3, timeout);
		bool stop = false;
		uint64_t v;

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			stop |= ev[i].data.fd == ctx->stop_efd;
			if (ev[i].data.fd == ctx->kick_efd && read(ctx->kick_efd, &v, sizeof(v)) < 0)
				v = 0;
		}
		if (stop)
			break;
		if (drain(ft) < 0) {
			rwp_log(ctx, RWP_LOG_ERR, "fault thread: reading the uffd failed");
			break;
		}
		timeout = retry_parked(ft);
	}
	rwp_fetcher_destroy(&ft->fetcher);
	free(ft);
	return NULL;
}

void rwp_fault_thread_kick(struct rwp_ctx *ctx)
{
	uint64_t one = 1;

	if (ctx->kick_efd >= 0 && write(ctx->kick_efd, &one, sizeof(one)) < 0)
		rwp_log(ctx, RWP_LOG_WARN, "kicking the fault thread: %s", strerror(errno));
}

static int watch(struct rwp_ctx *ctx, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, fd, &ev))
		return rwp_err(ctx, errno, "epoll: %s", strerror(errno));
	return 0;
}

int rwp_fault_thread_start(struct rwp_ctx *ctx)
{
	struct fault_thread *ft;
	int ret;

	ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
	ctx->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ctx->kick_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ctx->latency = rwp_latency_new();
	if (ctx->epfd < 0 || ctx->stop_efd < 0 || ctx->kick_efd < 0)
		return rwp_err(ctx, errno, "fault thread: %s", strerror(errno));
	if (!ctx->latency)
		return -ENOMEM;
	ret = watch(ctx, ctx->uffd) ?: watch(ctx, ctx->stop_efd) ?: watch(ctx, ctx->kick_efd);
	if (ret)
		return ret;
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return -ENOMEM;
	ft->ctx = ctx;
	ret = rwp_fetcher_init(&ft->fetcher);
	if (ret) {
		free(ft);
		return ret;
	}
	ret = pthread_create(&ctx->thread, NULL, fault_thread, ft);
	if (ret) {
		rwp_fetcher_destroy(&ft->fetcher);
		free(ft);
		return rwp_err(ctx, ret, "starting the fault thread: %s", strerror(ret));
	}
	if (ctx->pin) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(ctx->cpu, &set);
		ret = pthread_setaffinity_np(ctx->thread, sizeof(set), &set);
		if (ret)
			rwp_log(ctx, RWP_LOG_WARN, "pinning the fault thread to CPU %d: %s",
				ctx->cpu, strerror(ret));
	}
	pthread_setname_np(ctx->thread, "rwp-fault");
	ctx->thread_started = true;
	return 0;
}

void rwp_fault_thread_stop(struct rwp_ctx *ctx)
{
	if (ctx->thread_started) {
		uint64_t one = 1;

		if (write(ctx->stop_efd, &one, sizeof(one)) != sizeof(one))
			rwp_log(ctx, RWP_LOG_ERR, "cannot stop the fault thread");
		pthread_join(ctx->thread, NULL);
		ctx->thread_started = false;
	}
	if (ctx->epfd >= 0)
		close(ctx->epfd);
	if (ctx->stop_efd >= 0)
		close(ctx->stop_efd);
	if (ctx->kick_efd >= 0)
		close(ctx->kick_efd);
	ctx->epfd = ctx->stop_efd = ctx->kick_efd = -1;
	free(ctx->latency);
	ctx->latency = NULL;
}
