// SPDX-License-Identifier: MIT
/*
 * Local file or block device tier. A store batch gets consecutive slots where it can and
 * goes out in as few pwritev() calls as there are runs. Freed slots are reused, not
 * punched: the file's size is the high-water mark of what was evicted at once.
 */
#include "tier.h"
#include "slots.h"
#include "../opts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define UNIT 4096u
#define MAX_IOV 1024

struct filetier {
	struct rwp_tier tier;
	int fd;
	pthread_mutex_t lock; /* the slot map; reads and writes go unlocked */
	struct rwp_slots slots;
	struct iovec iov[MAX_IOV];
};

static struct filetier *to_file(struct rwp_tier *t)
{
	return (struct filetier *)t;
}

static unsigned int units_of(size_t page_size)
{
	return page_size / UNIT;
}

static uint64_t unit_of_slot(uint32_t slot, size_t page_size)
{
	return (uint64_t)slot * units_of(page_size);
}

static int write_run(struct filetier *f, struct rwp_store *v, size_t n, size_t page_size)
{
	off_t off = unit_of_slot(v[0].slot, page_size) * UNIT;
	size_t total = n * page_size, done = 0;

	for (size_t i = 0; i < n; i++)
		f->iov[i] = (struct iovec){ .iov_base = (void *)v[i].data, .iov_len = page_size };
	while (done < total) {
		/* resume a short write at the iovec it stopped in */
		size_t i = done / page_size;
		struct iovec first = f->iov[i];
		ssize_t w;

		f->iov[i].iov_base = (char *)first.iov_base + done % page_size;
		f->iov[i].iov_len = page_size - done % page_size;
		w = pwritev(f->fd, &f->iov[i], n - i, off + done);
		f->iov[i] = first;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		done += w;
	}
	return 0;
}

static int file_store(struct rwp_tier *t, struct rwp_store *v, size_t n, size_t page_size,
		      bool last)
{
	struct filetier *f = to_file(t);
	unsigned int units = units_of(page_size);

	(void)last;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < n; i++) {
		int64_t u = rwp_slots_alloc(&f->slots, units);

		v[i].result = u < 0 ? (int)u : 0;
		v[i].slot = u < 0 ? 0 : u / units;
	}
	pthread_mutex_unlock(&f->lock);
	/* one pwritev per run of consecutive slots; a failed run frees its slots */
	for (size_t i = 0, j; i < n; i = j) {
		j = i + 1;
		if (v[i].result)
			continue;
		while (j < n && !v[j].result && v[j].slot == v[j - 1].slot + 1 && j - i < MAX_IOV)
			j++;
		int ret = write_run(f, &v[i], j - i, page_size);

		pthread_mutex_lock(&f->lock);
		for (size_t k = i; ret && k < j; k++) {
			rwp_slots_free(&f->slots, unit_of_slot(v[k].slot, page_size), units);
			v[k].result = ret;
		}
		pthread_mutex_unlock(&f->lock);
	}
	return 0;
}

/* Consecutive slots are consecutive in the file: a run of them is one read. */
static int file_load_seq(struct rwp_tier *t, uint32_t slot, uint32_t n, void *buf,
			 size_t page_size)
{
	struct filetier *f = to_file(t);
	off_t off = unit_of_slot(slot, page_size) * UNIT;
	size_t len = (size_t)n * page_size, done = 0;

	while (done < len) {
		ssize_t r = pread(f->fd, (char *)buf + done, len - done, off + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += r;
	}
	return 0;
}

static int file_load(struct rwp_tier *t, uint32_t slot, void *page, size_t page_size)
{
	return file_load_seq(t, slot, 1, page, page_size);
}

static void file_drop(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	struct filetier *f = to_file(t);

	pthread_mutex_lock(&f->lock);
	rwp_slots_free(&f->slots, unit_of_slot(slot, page_size), units_of(page_size));
	pthread_mutex_unlock(&f->lock);
}

/* Recovery: a page a predecessor stored stays where it is; new pages go around it. */
static void file_recover_mark(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	struct filetier *f = to_file(t);

	pthread_mutex_lock(&f->lock);
	rwp_slots_mark(&f->slots, unit_of_slot(slot, page_size), units_of(page_size));
	pthread_mutex_unlock(&f->lock);
}

static uint64_t file_used(struct rwp_tier *t)
{
	return __atomic_load_n(&to_file(t)->slots.used, __ATOMIC_RELAXED) * UNIT;
}

static void file_destroy(struct rwp_tier *t)
{
	struct filetier *f = to_file(t);

	if (f->fd >= 0)
		close(f->fd);
	rwp_slots_destroy(&f->slots);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static const struct rwp_tier_ops file_ops = {
	.name = "file",
	.store = file_store,
	.load = file_load,
	.load_seq = file_load_seq,
	.drop = file_drop,
	.used_bytes = file_used,
	.destroy = file_destroy,
	.recover_mark = file_recover_mark,
};

RWP_EXPORT int rwp_tier_file_new(const struct rwp_tier_file_opts *opts, struct rwp_tier **out)
{
	const char *path = OPTS_GET(opts, path, NULL);
	uint64_t limit = OPTS_GET(opts, max_bytes, 0);
	int flags = O_RDWR | O_CLOEXEC | (OPTS_GET(opts, direct, false) ? O_DIRECT : 0);
	struct filetier *f;
	struct stat st;
	int err;

	if (!out || !path || !OPTS_VALID(opts, rwp_tier_file_opts))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		f->fd = open(path, flags | O_TMPFILE, 0600);
	else
		f->fd = open(path, flags | O_CREAT, 0600);
	if (f->fd < 0 || fstat(f->fd, &st))
		goto err;
	/* two tiers writing slots of one file would overwrite each other's pages */
	if (flock(f->fd, LOCK_EX | LOCK_NB)) {
		errno = errno == EWOULDBLOCK ? EBUSY : errno;
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t size;

		if (ioctl(f->fd, BLKGETSIZE64, &size))
			goto err;
		if (!limit || limit > size)
			limit = size;
	}
	/* a 4 KiB slot must fit the page state word */
	if (!limit || limit / UNIT > (uint64_t)PS_SLOT_MAX + 1)
		limit = ((uint64_t)PS_SLOT_MAX + 1) * UNIT;
	rwp_slots_init(&f->slots, limit / UNIT);
	pthread_mutex_init(&f->lock, NULL);
	rwp_tier_init(&f->tier, &file_ops, "file");
	*out = &f->tier;
	return 0;
err:
	err = errno;
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	return -err;
}
