// SPDX-License-Identifier: MIT
/* userfaultfd ioctls as -errno returning calls. */
#include "../internal.h"

#include <errno.h>
#include <sched.h>
#include <sys/ioctl.h>

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

int rwp_uffd_api(int uffd, uint64_t features, uint64_t *got_features, uint64_t *ioctls)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int ret = xioctl(uffd, UFFDIO_API, &api);

	if (ret)
		return ret;
	if (got_features)
		*got_features = api.features;
	if (ioctls)
		*ioctls = api.ioctls;
	return 0;
}

int rwp_uffd_register(int uffd, uintptr_t addr, size_t len, uint64_t mode, uint64_t *ioctls)
{
	struct uffdio_register reg = { .range = { .start = addr, .len = len }, .mode = mode };
	int ret = xioctl(uffd, UFFDIO_REGISTER, &reg);

	if (!ret && ioctls)
		*ioctls = reg.ioctls;
	return ret;
}

int rwp_uffd_unregister(int uffd, uintptr_t addr, size_t len)
{
	struct uffdio_range range = { .start = addr, .len = len };

	return xioctl(uffd, UFFDIO_UNREGISTER, &range);
}

int rwp_uffd_wake(int uffd, uintptr_t addr, size_t len)
{
	struct uffdio_range range = { .start = addr, .len = len };

	return xioctl(uffd, UFFDIO_WAKE, &range);
}

/* The mm is changing (fork, mremap, a pending REMOVE): retry protection changes. */
#define RETRY_EAGAIN(expr)                                                                 \
	({                                                                                 \
		int __r, __n = 0;                                                          \
		while ((__r = (expr)) == -EAGAIN && ++__n < 1000)                          \
			sched_yield();                                                     \
		__r;                                                                       \
	})

int rwp_uffd_rwprotect(int uffd, uintptr_t addr, size_t len, uint64_t mode)
{
	struct uffdio_rwprotect rp = { .range = { .start = addr, .len = len }, .mode = mode };

	return RETRY_EAGAIN(xioctl(uffd, UFFDIO_RWPROTECT, &rp));
}

int rwp_uffd_writeprotect(int uffd, uintptr_t addr, size_t len, uint64_t mode)
{
	struct uffdio_writeprotect wp = { .range = { .start = addr, .len = len }, .mode = mode };

	return RETRY_EAGAIN(xioctl(uffd, UFFDIO_WRITEPROTECT, &wp));
}

int rwp_uffd_set_mode(int uffd, uint64_t enable, uint64_t disable)
{
	struct uffdio_set_mode m = { .enable = enable, .disable = disable };

	return xioctl(uffd, UFFDIO_SET_MODE, &m);
}

/*
 * Resolving ioctls return the bytes mapped, or -errno: -EEXIST (already mapped: benign,
 * the caller wakes), -EAGAIN (the mm is changing: drain events and retry), -ESRCH/-ENOSPC
 * (the process is exiting).
 */
int rwp_uffd_continue(int uffd, uintptr_t addr, size_t len)
{
	struct uffdio_continue c = { .range = { .start = addr, .len = len } };
	int ret = xioctl(uffd, UFFDIO_CONTINUE, &c);

	return ret ? ret : (int)c.mapped;
}

int rwp_uffd_zeropage(int uffd, uintptr_t addr, size_t len)
{
	struct uffdio_zeropage z = { .range = { .start = addr, .len = len } };
	int ret = xioctl(uffd, UFFDIO_ZEROPAGE, &z);

	return ret ? ret : (int)z.zeropage;
}

int rwp_uffd_copy(int uffd, uintptr_t dst, const void *src, size_t len, uint64_t mode)
{
	struct uffdio_copy c = { .dst = dst, .src = (uintptr_t)src, .len = len, .mode = mode };
	int ret = xioctl(uffd, UFFDIO_COPY, &c);

	return ret ? ret : (int)c.copy;
}

/* Move pages within the process (anon only, dst registered on this uffd). */
int rwp_uffd_move(int uffd, uintptr_t dst, uintptr_t src, size_t len)
{
	struct uffdio_move m = { .dst = dst, .src = src, .len = len };
	int ret = xioctl(uffd, UFFDIO_MOVE, &m);

	return ret ? ret : (int)m.move;
}

int rwp_uffd_poison(int uffd, uintptr_t addr, size_t len)
{
	struct uffdio_poison p = { .range = { .start = addr, .len = len } };
	int ret = xioctl(uffd, UFFDIO_POISON, &p);

	return ret ? ret : (int)p.updated;
}
