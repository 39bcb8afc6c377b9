// SPDX-License-Identifier: MIT
/* Clocks, pinning, medians, raw userfaultfds and the key=value summary. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_userfaultfd
#define __NR_userfaultfd 323
#endif

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void sleep_until_ns(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000ULL, .tv_nsec = t % 1000000000ULL };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

double median_u64(uint64_t *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

int raw_uffd_new(uint64_t features, int *out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		/* no syscall permission: the device grants the same without it */
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev < 0)
			return -EPERM;
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd < 0)
			return -errno;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;

		close(fd);
		return -err;
	}
	*out = fd;
	return 0;
}

int uffd_serve(int uffd, int efd, size_t page_size,
	       int (*resolve)(void *arg, uintptr_t addr), void *arg)
{
	struct pollfd p[2] = { { .fd = uffd, .events = POLLIN }, { .fd = efd, .events = POLLIN } };
	int err = 0;

	for (;;) {
		struct uffd_msg msg[16];
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		n = read(uffd, msg, sizeof(msg));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
			uintptr_t a = msg[i].arg.pagefault.address & ~(uintptr_t)(page_size - 1);
			struct uffdio_range r = { .start = a, .len = page_size };
			int ret;

			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			ret = resolve(arg, a);
			if (!ret)
				continue;
			if (ret != EEXIST && !err)
				err = ret;
			/* never leave the toucher blocked */
			ioctl(uffd, UFFDIO_WAKE, &r);
		}
	}
	return err;
}

/* jiffies: the whole machine's busy and total, and this process's own */
static void load_read(struct load_mark *m)
{
	unsigned long long v[8] = { 0 };
	char buf[512], *p;
	FILE *f = fopen("/proc/stat", "r");

	memset(m, 0, sizeof(*m));
	if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			&v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		m->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		m->total = m->busy + v[3] + v[4];
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/stat", "r");
	if (f && fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')'))) {
		unsigned long long ut = 0, st = 0;

		/* after the command: state, then fields 4..13, then utime and stime */
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			   &st) == 2)
			m->self = ut + st;
	}
	if (f)
		fclose(f);
}

uint64_t thread_wait_ns(void)
{
	unsigned long long run = 0, wait = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	if (f && fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	if (f)
		fclose(f);
	return wait;
}

void load_mark(struct load_mark *m)
{
	load_read(m);
}

double load_others(const struct load_mark *a)
{
	struct load_mark b;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	double others;

	load_read(&b);
	if (b.total <= a->total)
		return 0;
	others = (double)((int64_t)(b.busy - a->busy) - (int64_t)(b.self - a->self)) /
		 (b.total - a->total) * ncpu;
	/* the two clocks tick apart: a small negative figure means "nothing" */
	return others > 0 ? others : 0;
}

static char *kv_buf;
static size_t kv_len;
static FILE *kv_out;

void kv(const char *fmt, ...)
{
	va_list ap;

	if (!kv_out && !(kv_out = open_memstream(&kv_buf, &kv_len)))
		return;
	va_start(ap, fmt);
	vfprintf(kv_out, fmt, ap);
	va_end(ap);
	fputc('\n', kv_out);
}

void kv_flush(void)
{
	if (!kv_out)
		return;
	fclose(kv_out);
	kv_out = NULL;
	printf("\n## Machine-readable summary (one line per figure)\n%s", kv_buf);
	free(kv_buf);
	kv_buf = NULL;
	fflush(stdout);
}
