// SPDX-License-Identifier: MIT
/*
 * The fault thread: one per context, epoll over the uffd and a stop eventfd. It resolves
 * the faults tracking raises (MINOR, sync RWP), serves MISSING faults, and follows the
 * events that change the address space (REMOVE, UNMAP, REMAP, FORK).
 *
 * A resolving ioctl that fails with EAGAIN means an event is pending: the message is
 * parked, the events are drained, and it is retried.
 */
#include "../internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MSG_BATCH 64
#define PARKED_MAX 4096

struct fault_thread {
	struct uffd_msg parked[PARKED_MAX];
	size_t nr_parked;
	void *zero; /* a zero huge page for hugetlbfs, which has no UFFDIO_ZEROPAGE */
	size_t zero_len;
};

static int zero_fill(struct rwp_ctx *ctx, struct fault_thread *ft, struct rwp_region *r,
		     uintptr_t addr)
{
	if (r->mem != RWP_MEM_HUGETLB)
		return rwp_uffd_zeropage(ctx->uffd, addr, r->page_size);
	if (ft->zero_len < r->page_size) {
		void *z = mmap(NULL, r->page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (z == MAP_FAILED)
			return -ENOMEM;
		if (ft->zero)
			munmap(ft->zero, ft->zero_len);
		ft->zero = z;
		ft->zero_len = r->page_size;
	}
	return rwp_uffd_copy(ctx->uffd, addr, ft->zero, r->page_size, 0);
}

/* A page that nothing else claims: the kernel would have given zeros. */
static int serve_missing(struct rwp_ctx *ctx, struct fault_thread *ft, struct rwp_region *r,
			 uint64_t pg)
{
	uintptr_t addr = rwp_addr_of(r, pg);
	int ret = zero_fill(ctx, ft, r, addr);

	if (r->ops->ages_from_faults)
		rwp_ages_touch(r, pg, false);
	if (ret == -EEXIST)
		ret = rwp_uffd_wake(ctx->uffd, addr, r->page_size);
	return ret < 0 ? ret : 0;
}

static int handle_pagefault(struct rwp_ctx *ctx, struct fault_thread *ft,
			    const struct uffd_msg *msg)
{
	uintptr_t addr = msg->arg.pagefault.address;
	uint64_t flags = msg->arg.pagefault.flags;
	struct rwp_region *r;
	int ret;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	r = rwp_region_find_locked(ctx, addr);
	if (!r || atomic_load(&r->gone)) {
		/* unregistered meanwhile: let the thread retry against the new state */
		pthread_rwlock_unlock(&ctx->regions_lock);
		rwp_uffd_wake(ctx->uffd, addr & ~(PAGE_4K - 1), PAGE_4K);
		return 0;
	}
	uint64_t pg = rwp_page_of(r, addr);

	if (flags & (UFFD_PAGEFAULT_FLAG_MINOR | UFFD_PAGEFAULT_FLAG_RWP |
		     UFFD_PAGEFAULT_FLAG_WP))
		ret = r->ops->fault(r, msg, pg);
	else
		ret = serve_missing(ctx, ft, r, pg);
	pthread_rwlock_unlock(&ctx->regions_lock);
	return ret;
}

static int handle_msg(struct rwp_ctx *ctx, struct fault_thread *ft, const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT:
		return handle_pagefault(ctx, ft, msg);
	case UFFD_EVENT_FORK:
		/* the child's copy of the registration: closing it restores normal access */
		close((int)msg->arg.fork.ufd);
		return 0;
	case UFFD_EVENT_REMAP:
		rwp_region_mark_gone(ctx, msg->arg.remap.from, msg->arg.remap.from + msg->arg.remap.len,
				     "was moved by mremap()");
		return 0;
	case UFFD_EVENT_UNMAP:
		rwp_region_mark_gone(ctx, msg->arg.remove.start, msg->arg.remove.end,
				     "was unmapped");
		return 0;
	case UFFD_EVENT_REMOVE:
		/* zapped or discarded PTEs: a scan or the next fault sees the new state */
		return 0;
	default:
		rwp_log(ctx, RWP_LOG_WARN, "unexpected uffd event %u", msg->event);
		return 0;
	}
}

static void dispatch(struct rwp_ctx *ctx, struct fault_thread *ft, const struct uffd_msg *msg)
{
	int ret = handle_msg(ctx, ft, msg);

	if (ret == -EAGAIN) {
		if (ft->nr_parked < PARKED_MAX) {
			ft->parked[ft->nr_parked++] = *msg;
			return;
		}
		sched_yield();
		ret = handle_msg(ctx, ft, msg);
	}
	if (ret && ret != -ESRCH && ret != -ENOSPC) {
		rwp_log(ctx, RWP_LOG_ERR, "fault at %#llx (flags %#llx): %s",
			(unsigned long long)msg->arg.pagefault.address,
			(unsigned long long)msg->arg.pagefault.flags, strerror(-ret));
		/* never leave a thread blocked: it faults again and we try again */
		if (msg->event == UFFD_EVENT_PAGEFAULT)
			rwp_uffd_wake(ctx->uffd, msg->arg.pagefault.address & ~(PAGE_4K - 1),
				      PAGE_4K);
	}
}

/* Read every queued message; returns how many, or -errno on a fatal read error. */
static int drain(struct rwp_ctx *ctx, struct fault_thread *ft)
{
	struct uffd_msg msgs[MSG_BATCH];
	int total = 0;

	for (;;) {
		ssize_t n = read(ctx->uffd, msgs, sizeof(msgs));

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return total;
			return -errno;
		}
		if (n == 0 || n % sizeof(msgs[0]))
			return -EIO; /* a short read is fatal */
		for (size_t i = 0; i < n / sizeof(msgs[0]); i++)
			dispatch(ctx, ft, &msgs[i]);
		total += n / sizeof(msgs[0]);
	}
}

static void retry_parked(struct rwp_ctx *ctx, struct fault_thread *ft)
{
	size_t n = ft->nr_parked;
	struct uffd_msg *copy;

	if (!n)
		return;
	copy = malloc(n * sizeof(*copy));
	if (!copy)
		return;
	memcpy(copy, ft->parked, n * sizeof(*copy));
	ft->nr_parked = 0;
	for (size_t i = 0; i < n; i++)
		dispatch(ctx, ft, &copy[i]);
	free(copy);
}

static void *fault_thread(void *arg)
{
	struct rwp_ctx *ctx = arg;
	struct fault_thread *ft = calloc(1, sizeof(*ft));

	if (!ft) {
		rwp_log(ctx, RWP_LOG_ERR, "fault thread: out of memory");
		return NULL;
	}
	for (;;) {
		struct epoll_event ev[2];
		int n = epoll_wait(ctx->epfd, ev, 2, ft->nr_parked ? 1 : -1);
		bool stop = false;

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++)
			stop |= ev[i].data.fd == ctx->stop_efd;
		if (stop)
			break;
		if (drain(ctx, ft) < 0) {
			rwp_log(ctx, RWP_LOG_ERR, "fault thread: reading the uffd failed");
			break;
		}
		retry_parked(ctx, ft);
	}
	if (ft->zero)
		munmap(ft->zero, ft->zero_len);
	free(ft);
	return NULL;
}

int rwp_fault_thread_start(struct rwp_ctx *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
	ctx->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctx->epfd < 0 || ctx->stop_efd < 0)
		return rwp_err(ctx, errno, "fault thread: %s", strerror(errno));
	ev.data.fd = ctx->uffd;
	if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, ctx->uffd, &ev))
		return rwp_err(ctx, errno, "epoll on the uffd: %s", strerror(errno));
	ev.data.fd = ctx->stop_efd;
	if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, ctx->stop_efd, &ev))
		return rwp_err(ctx, errno, "epoll on the eventfd: %s", strerror(errno));
	ret = pthread_create(&ctx->thread, NULL, fault_thread, ctx);
	if (ret)
		return rwp_err(ctx, ret, "starting the fault thread: %s", strerror(ret));
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
	ctx->epfd = ctx->stop_efd = -1;
}
