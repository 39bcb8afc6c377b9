// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include "guestmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_2M (2UL << 20)

int guestmem_map(struct guestmem *g, enum rwp_mem mem, size_t len, const char **why)
{
	memset(g, 0, sizeof(*g));
	g->mem = mem;
	g->fd = -1;
	g->len = len;
	g->page_size = mem == RWP_MEM_HUGETLB ? HUGE_2M : 4096;
	g->nr_pages = len / g->page_size;
	if (mem == RWP_MEM_ANON) {
		g->base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (g->base == MAP_FAILED)
			return -errno;
		/* exact 4 KiB tracking of anon memory wants no THP underneath */
		madvise(g->base, len, MADV_NOHUGEPAGE);
		return 0;
	}
	g->fd = memfd_create(mem == RWP_MEM_HUGETLB ? "rwp-test-huge" : "rwp-test",
			     MFD_CLOEXEC | (mem == RWP_MEM_HUGETLB ? MFD_HUGETLB : 0));
	if (g->fd < 0) {
		*why = "memfd_create(MFD_HUGETLB) failed: no hugetlbfs";
		return -errno;
	}
	if (ftruncate(g->fd, len)) {
		int err = errno;

		close(g->fd);
		return -err;
	}
	g->base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	if (g->base == MAP_FAILED) {
		int err = errno;

		close(g->fd);
		*why = "not enough free huge pages (set vm.nr_hugepages)";
		return -err;
	}
	if (mem == RWP_MEM_HUGETLB && fallocate(g->fd, 0, 0, len)) {
		int err = errno;

		guestmem_unmap(g);
		*why = "not enough free huge pages (set vm.nr_hugepages)";
		return -err;
	}
	return 0;
}

void guestmem_unmap(struct guestmem *g)
{
	if (g->base && g->base != MAP_FAILED)
		munmap(g->base, g->len);
	if (g->fd >= 0)
		close(g->fd);
	g->base = NULL;
	g->fd = -1;
}

void guestmem_populate(struct guestmem *g)
{
	for (size_t off = 0; off < g->len; off += 4096)
		*(volatile uint64_t *)(g->base + off) = off ^ 0x5a5a5a5a5a5a5a5aULL;
}

int guestmem_register(struct rwp_ctx *ctx, struct guestmem *g, enum rwp_backend b,
		      unsigned int flags, struct rwp_region **out)
{
	RWP_OPTS(rwp_region_opts, o, .mem = g->mem, .addr = g->base, .len = g->len, .fd = g->fd,
		 .backend = b, .flags = flags, .name = rwp_mem_name(g->mem));

	return rwp_region_register(ctx, &o, out);
}

bool backend_selected(enum rwp_backend b)
{
	const char *list = getenv("RWP_TEST_BACKENDS"), *name = rwp_backend_name(b);
	size_t n = strlen(name);

	if (!list || !*list)
		return true;
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

bool backend_available(enum rwp_backend b, enum rwp_mem mem, const char **why)
{
	struct rwp_features f;

	rwp_probe(&f);
	if (!f.uffd) {
		*why = "no userfaultfd";
		return false;
	}
	switch (b) {
	case RWP_BACKEND_NATIVE:
		*why = "kernel has no userfaultfd RWP (Linux >= 7.3)";
		return f.rwp;
	case RWP_BACKEND_WP_ASYNC:
		*why = "kernel has no WP_ASYNC + PAGEMAP_SCAN (Linux >= 6.7)";
		return f.wp_async;
	case RWP_BACKEND_MINOR:
		if (mem == RWP_MEM_ANON) {
			*why = "MINOR mode does not exist for anon memory";
			return false;
		}
		*why = "kernel has no MINOR faults for this memory";
		return mem == RWP_MEM_SHMEM ? f.minor_shmem : f.minor_hugetlbfs;
	default:
		*why = "unknown backend";
		return false;
	}
}

static void log_stderr(void *arg, enum rwp_log_level lvl, const char *msg)
{
	(void)arg;
	fprintf(stderr, "# librwp[%d]: %s\n", lvl, msg);
}

int test_ctx_new(unsigned int flags, struct rwp_ctx **out)
{
	const char *v = getenv("RWP_TEST_VERBOSE");
	RWP_OPTS(rwp_ctx_opts, o, .flags = flags, .log = log_stderr,
		 .log_level = v && *v == '1' ? RWP_LOG_DEBUG : RWP_LOG_ERR);

	return rwp_ctx_new(&o, out);
}

size_t test_region_bytes(void)
{
	const char *mb = getenv("RWP_TEST_MB");
	size_t n = mb ? strtoul(mb, NULL, 10) : 1024;

	if (n < 4)
		n = 4;
	return (n & ~1UL) << 20; /* whole 2 MiB pages */
}

uint64_t test_rand(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
