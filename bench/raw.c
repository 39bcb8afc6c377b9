// SPDX-License-Identifier: MIT
/* Raw tracking: a backend's kernel operations on a region under our own userfaultfd. */
#define _GNU_SOURCE
#include "raw.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int raw_scan(struct raw *x, uint64_t flags, uint64_t mask, uint64_t anyof, uint64_t ret_mask,
	     uint64_t *ns)
{
	uintptr_t start = (uintptr_t)x->g->base, end = start + x->g->len;
	uint64_t t0 = now_ns();

	x->n = 0;
	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = flags,
			.start = start,
			.end = end,
			.vec = (uintptr_t)(x->vec + x->n),
			.vec_len = x->cap - x->n,
			.category_mask = mask,
			.category_anyof_mask = anyof,
			.return_mask = ret_mask,
		};
		long n = ioctl(x->pagemap, PAGEMAP_SCAN, &a);

		if (n < 0)
			return -errno;
		x->n += n;
		/* a short answer means done: walk_end is unreliable on 6.18 (limits.md) */
		if ((size_t)n < a.vec_len || x->n == x->cap)
			break;
		start = a.walk_end > x->vec[x->n - 1].end ? a.walk_end : x->vec[x->n - 1].end;
	}
	if (ns)
		*ns = now_ns() - t0;
	return 0;
}

int raw_zap(struct raw *x, uintptr_t s, uintptr_t e)
{
	(void)x;
	return madvise((void *)s, e - s, MADV_DONTNEED) ? -errno : 0;
}

/* EAGAIN: the mm is changing under us (never expected here); retry a little. */
static int range_ioctl(int uffd, unsigned long req, void *arg)
{
	for (int i = 0; i < 1000; i++) {
		if (!ioctl(uffd, req, arg))
			return 0;
		if (errno != EAGAIN)
			return -errno;
		sched_yield();
	}
	return -EAGAIN;
}

int raw_rwprotect(struct raw *x, uintptr_t s, uintptr_t e)
{
	struct uffdio_rwprotect rp = { .range = { .start = s, .len = e - s },
				       .mode = UFFDIO_RWPROTECT_MODE_RWP };

	return range_ioctl(x->uffd, UFFDIO_RWPROTECT, &rp);
}

int raw_wprotect(struct raw *x, uintptr_t s, uintptr_t e)
{
	struct uffdio_writeprotect wp = { .range = { .start = s, .len = e - s },
					  .mode = UFFDIO_WRITEPROTECT_MODE_WP };

	return range_ioctl(x->uffd, UFFDIO_WRITEPROTECT, &wp);
}

int raw_whole(struct raw *x, raw_act_fn act, uint64_t *ns)
{
	uint64_t t0 = now_ns();
	int ret = act(x, (uintptr_t)x->g->base, (uintptr_t)x->g->base + x->g->len);

	if (ns)
		*ns = now_ns() - t0;
	return ret;
}

int raw_each_run(struct raw *x, raw_act_fn act, uint64_t *ns)
{
	uint64_t t0 = now_ns();

	for (size_t i = 0; i < x->n; i++) {
		int ret = act(x, x->vec[i].start, x->vec[i].end);

		if (ret)
			return ret;
	}
	if (ns)
		*ns = now_ns() - t0;
	return 0;
}

/* ------------------------------------------------------------- minor handler -- */

static int minor_resolve(void *arg, uintptr_t addr)
{
	struct raw *x = arg;
	struct uffdio_continue c = { .range = { .start = addr, .len = x->g->page_size } };

	return ioctl(x->uffd, UFFDIO_CONTINUE, &c) ? errno : 0;
}

static void *minor_loop(void *arg)
{
	struct raw *x = arg;

	pin_self(x->cpu);
	x->handler_err = uffd_serve(x->uffd, x->efd, x->g->page_size, minor_resolve, x);
	return NULL;
}

/* ------------------------------------------------------------ open / close -- */

static uint64_t features_for(enum rwp_backend b, enum rwp_mem mem, uint64_t *mode)
{
	switch (b) {
	case RWP_BACKEND_NATIVE:
		*mode = UFFDIO_REGISTER_MODE_RWP;
		return UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC;
	case RWP_BACKEND_WP_ASYNC:
		*mode = UFFDIO_REGISTER_MODE_WP;
		return UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
		       (mem != RWP_MEM_ANON ? UFFD_FEATURE_WP_HUGETLBFS_SHMEM : 0);
	default:
		*mode = UFFDIO_REGISTER_MODE_MINOR;
		return mem == RWP_MEM_HUGETLB ? UFFD_FEATURE_MINOR_HUGETLBFS
					      : UFFD_FEATURE_MINOR_SHMEM;
	}
}

int raw_open(struct raw *x, enum rwp_backend b, const struct guestmem *g, int cpu,
	     const char **step)
{
	uint64_t mode, features = features_for(b, g->mem, &mode);
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)g->base, .len = g->len }, .mode = mode };
	int ret;

	*x = (struct raw){ .b = b, .g = g, .uffd = -1, .pagemap = -1, .efd = -1, .cpu = cpu,
			   .cap = g->nr_pages + 1 };
	*step = "memory";
	x->vec = calloc(x->cap, sizeof(*x->vec));
	if (!x->vec)
		return -ENOMEM;
	*step = "userfaultfd";
	if ((ret = raw_uffd_new(features, &x->uffd)))
		goto err;
	*step = "UFFDIO_REGISTER";
	if (ioctl(x->uffd, UFFDIO_REGISTER, &reg)) {
		ret = -errno;
		goto err;
	}
	*step = "/proc/self/pagemap";
	x->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (x->pagemap < 0) {
		ret = -errno;
		goto err;
	}
	if (b == RWP_BACKEND_MINOR) {
		*step = "minor handler";
		x->efd = eventfd(0, EFD_CLOEXEC);
		if (x->efd < 0) {
			ret = -errno;
			goto err;
		}
		if ((ret = -pthread_create(&x->thread, NULL, minor_loop, x)))
			goto err;
		x->handler = true;
	}
	return 0;
err:
	raw_close(x);
	return ret;
}

void raw_close(struct raw *x)
{
	uint64_t one = 1;

	if (x->handler) {
		if (write(x->efd, &one, sizeof(one)) == sizeof(one))
			pthread_join(x->thread, NULL);
		x->handler = false;
	}
	if (x->efd >= 0)
		close(x->efd);
	if (x->pagemap >= 0)
		close(x->pagemap);
	if (x->uffd >= 0)
		close(x->uffd);
	free(x->vec);
	x->vec = NULL;
	x->efd = x->pagemap = x->uffd = -1;
}

/* ------------------------------------------------------------------ ticking -- */

int raw_arm(struct raw *x)
{
	switch (x->b) {
	case RWP_BACKEND_NATIVE:
		return raw_whole(x, raw_rwprotect, NULL);
	case RWP_BACKEND_WP_ASYNC: {
		int ret = raw_whole(x, raw_wprotect, NULL);

		return ret || x->g->mem == RWP_MEM_ANON ? ret : raw_whole(x, raw_zap, NULL);
	}
	default:
		return raw_whole(x, raw_zap, NULL);
	}
}

int raw_tick(struct raw *x)
{
	const uint64_t wpf = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	const uint64_t pw = PAGE_IS_PRESENT | PAGE_IS_WRITTEN;
	int ret;

	switch (x->b) {
	case RWP_BACKEND_NATIVE:
		ret = raw_scan(x, 0, PAGE_IS_ACCESSED, 0, PAGE_IS_ACCESSED, NULL);
		return ret ?: raw_whole(x, raw_rwprotect, NULL);
	case RWP_BACKEND_WP_ASYNC:
		if (x->g->mem == RWP_MEM_ANON)
			return raw_scan(x, wpf, PAGE_IS_WRITTEN, 0, pw, NULL);
		ret = raw_scan(x, wpf, 0, PAGE_IS_PRESENT, pw, NULL);
		return ret ?: raw_whole(x, raw_zap, NULL);
	default:
		return raw_whole(x, raw_zap, NULL);
	}
}
