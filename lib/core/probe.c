// SPDX-License-Identifier: MIT
/* Probe what the kernel offers once per process (CRIU kerndat style) and cache it. */
#include "../internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static struct rwp_features feat;
static pthread_once_t feat_once = PTHREAD_ONCE_INIT;

/*
 * Open a userfaultfd that also reports kernel-mode faults (KVM, GUP): never
 * UFFD_USER_MODE_ONLY. Fall back to /dev/userfaultfd when the syscall is not allowed.
 */
int rwp_uffd_open(bool *via_dev)
{
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (via_dev)
		*via_dev = false;
	if (fd >= 0)
		return fd;
	if (errno != EPERM && errno != ENOSYS)
		return -errno;
	int err = errno;
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

	if (dev < 0)
		return -err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	err = errno;
	close(dev);
	if (fd < 0)
		return -err;
	if (via_dev)
		*via_dev = true;
	return fd;
}

static bool probe_pagemap_scan(void)
{
	static char page[4096] __attribute__((aligned(4096)));
	struct page_region v[1];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = (uintptr_t)page,
		.end = (uintptr_t)page + sizeof(page),
		.vec = (uintptr_t)v,
		.vec_len = 1,
		.category_anyof_mask = PAGE_IS_PRESENT,
		.return_mask = PAGE_IS_PRESENT,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	page[0] = 1;
	ok = ioctl(fd, PAGEMAP_SCAN, &a) >= 0;
	close(fd);
	return ok;
}

/*
 * Can one process drop another's PTEs? process_madvise(MADV_DONTNEED) works on the caller
 * itself since 6.13, but only some kernels allow it on another process: ask a child.
 */
static bool probe_remote_zap(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t parent = getpid(), child;
	int status = 0;

	if (p == MAP_FAILED)
		return false;
	child = fork();
	if (child == 0) {
		int pidfd = syscall(__NR_pidfd_open, parent, 0);
		struct iovec iov = { .iov_base = p, .iov_len = 4096 };

		_exit(pidfd >= 0 &&
		      syscall(__NR_process_madvise, pidfd, &iov, 1, MADV_DONTNEED, 0) == 4096 ? 0 : 1);
	}
	if (child > 0)
		waitpid(child, &status, 0);
	munmap(p, 4096);
	return child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void probe(void)
{
	struct utsname u;
	bool via_dev;
	int fd;

	if (!uname(&u))
		snprintf(feat.kernel, sizeof(feat.kernel), "%s", u.release);
	feat.pagemap_scan = probe_pagemap_scan();
	feat.remote_zap = probe_remote_zap();

	fd = rwp_uffd_open(&via_dev);
	if (fd < 0) {
		snprintf(feat.why, sizeof(feat.why),
			 fd == -EPERM ? "userfaultfd not permitted (vm.unprivileged_userfaultfd=0 "
					"and no access to /dev/userfaultfd)"
				      : "userfaultfd unavailable: %s",
			 strerror(-fd));
		return;
	}
	if (rwp_uffd_api(fd, 0, &feat.uffd_features, &feat.uffd_ioctls)) {
		snprintf(feat.why, sizeof(feat.why), "UFFDIO_API failed");
		close(fd);
		return;
	}
	close(fd);
	feat.uffd = true;
	feat.dev_userfaultfd = via_dev;

	uint64_t f = feat.uffd_features;
	uint64_t rwp = UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC;
	uint64_t wp = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
		      UFFD_FEATURE_WP_HUGETLBFS_SHMEM;

	feat.rwp = (f & rwp) == rwp && (feat.uffd_ioctls & (1ULL << _UFFDIO_SET_MODE)) &&
		   feat.pagemap_scan;
	feat.wp_async = (f & wp) == wp && feat.pagemap_scan;
	feat.minor_shmem = f & UFFD_FEATURE_MINOR_SHMEM;
	feat.minor_hugetlbfs = f & UFFD_FEATURE_MINOR_HUGETLBFS;
	feat.move = f & UFFD_FEATURE_MOVE;
}

const struct rwp_features *rwp_features_get(void)
{
	pthread_once(&feat_once, probe);
	return &feat;
}

RWP_EXPORT int rwp_probe(struct rwp_features *out)
{
	if (!out)
		return -EINVAL;
	*out = *rwp_features_get();
	return 0;
}

/*
 * Everything rwp can use: the tracking features of every backend the kernel has, missing
 * faults on shared memory for eviction, and the events that change the address space.
 * WP_ASYNC only affects write-protect mode, RWP_ASYNC only RWP mode: they coexist.
 *
 * EVENT_REMOVE makes every MADV_DONTNEED on registered memory wait until the fault thread
 * has read the event: a round trip per zap, and the stock backends zap every interval.
 * It is taken only with RWP, where nothing is zapped and a guest's MADV_DONTNEED on
 * hugetlbfs must be seen (see rwp_native_removed()), or when asked for
 * (RWP_CTX_DISCARDS: a guest that discards evictable private anonymous memory).
 */
RWP_EXPORT uint64_t rwp_uffd_wanted_features(const struct rwp_features *f)
{
	uint64_t want = UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMAP |
			UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MISSING_HUGETLBFS |
			UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MINOR_HUGETLBFS | UFFD_FEATURE_MOVE |
			UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_POISON;

	if (f->rwp)
		want |= UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC | UFFD_FEATURE_EVENT_REMOVE;
	if (f->wp_async)
		want |= UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
			UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	return want & f->uffd_features;
}

RWP_EXPORT int rwp_uffd_create(int *uffd, uint64_t *features)
{
	const struct rwp_features *f = rwp_features_get();
	uint64_t want;
	int fd, ret;

	if (!uffd)
		return -EINVAL;
	if (!f->uffd)
		return -ENOSYS;
	fd = rwp_uffd_open(NULL);
	if (fd < 0)
		return fd;
	want = rwp_uffd_wanted_features(f);
	ret = rwp_uffd_api(fd, want, NULL, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	*uffd = fd;
	if (features)
		*features = want;
	return 0;
}
