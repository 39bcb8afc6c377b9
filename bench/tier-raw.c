// SPDX-License-Identifier: MIT
/*
 * The floor of a fetch: MISSING faults on a region registered with a userfaultfd of our
 * own, served by a minimal handler thread (poll, read, UFFDIO_COPY of one page from a
 * buffer that stays hot in cache). Nothing librwp does is in it: no tier, no page state,
 * no bookkeeping, no decompression.
 */
#define _GNU_SOURCE
#include "tier.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int punch_pages(const struct guestmem *g, uint64_t first, uint64_t n)
{
	return fallocate(g->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)(first * g->page_size), (off_t)(n * g->page_size))
		       ? -errno
		       : 0;
}

int raw_missing_uffd(const struct guestmem *g, int *uffd)
{
	uint64_t feat = g->mem == RWP_MEM_HUGETLB ? UFFD_FEATURE_MISSING_HUGETLBFS
		      : g->mem == RWP_MEM_SHMEM	  ? UFFD_FEATURE_MISSING_SHMEM
						  : 0;
	struct uffdio_register reg = { .range = { .start = (uintptr_t)g->base, .len = g->len },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	int ret = raw_uffd_new(feat, uffd);

	if (ret)
		return ret;
	if (ioctl(*uffd, UFFDIO_REGISTER, &reg)) {
		ret = -errno;
		close(*uffd);
		*uffd = -1;
	}
	return ret;
}

static int copy_page(void *arg, uintptr_t addr)
{
	struct rawmiss *x = arg;
	struct uffdio_copy c = { .dst = addr, .src = (uintptr_t)x->src, .len = x->g->page_size };

	return ioctl(x->uffd, UFFDIO_COPY, &c) ? errno : 0;
}

static void *handler(void *arg)
{
	struct rawmiss *x = arg;

	pin_self(x->cpu);
	x->err = uffd_serve(x->uffd, x->efd, x->g->page_size, copy_page, x);
	return NULL;
}

int rawmiss_open(struct rawmiss *x, const struct guestmem *g, int cpu)
{
	int ret;

	memset(x, 0, sizeof(*x));
	x->g = g;
	x->cpu = cpu;
	x->uffd = x->efd = -1;
	x->src = mmap(NULL, g->page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (x->src == MAP_FAILED) {
		x->src = NULL;
		return -ENOMEM;
	}
	/* the page the handler copies: realistic content, in cache from the start */
	for (size_t off = 0; off < g->page_size; off += PAGE)
		content_page(C_HEAP, off / PAGE, x->src + off);
	ret = raw_missing_uffd(g, &x->uffd);
	if (ret) {
		rawmiss_close(x);
		return ret;
	}
	x->efd = eventfd(0, EFD_CLOEXEC);
	if (x->efd < 0 || (ret = -pthread_create(&x->thread, NULL, handler, x))) {
		ret = ret ? ret : -errno;
		rawmiss_close(x);
		return ret;
	}
	x->running = true;
	return 0;
}

void rawmiss_close(struct rawmiss *x)
{
	uint64_t one = 1;

	if (x->running) {
		if (write(x->efd, &one, sizeof(one)) != sizeof(one))
			abort();
		pthread_join(x->thread, NULL);
		x->running = false;
	}
	if (x->efd >= 0)
		close(x->efd);
	if (x->uffd >= 0)
		close(x->uffd); /* unregisters: plain memory again */
	if (x->src)
		munmap(x->src, x->g->page_size);
	x->efd = x->uffd = -1;
	x->src = NULL;
}
