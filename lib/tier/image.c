// SPDX-License-Identifier: MIT
/*
 * The read-only image a region is restored from lazily (a snapshot's memory file): slot i
 * is page i of the region. Nothing is ever stored here; a page leaves it when fetched.
 */
#include "tier.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct image {
	struct rwp_tier tier;
	int fd;
	off_t offset;
};

static int image_store(struct rwp_tier *t, struct rwp_store *v, size_t n, size_t page_size,
		       bool last)
{
	(void)t, (void)page_size, (void)last;
	for (size_t i = 0; i < n; i++)
		v[i].result = -EROFS;
	return 0;
}

/* A page's slot is its index: a run of pages is one read. */
static int image_load_seq(struct rwp_tier *t, uint32_t slot, uint32_t n, void *buf,
			  size_t page_size)
{
	struct image *im = (struct image *)t;
	off_t off = im->offset + (off_t)slot * page_size;
	size_t len = (size_t)n * page_size, done = 0;

	while (done < len) {
		ssize_t r = pread(im->fd, (char *)buf + done, len - done, off + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			/* past the end of the file: the snapshot had zeros there */
			memset((char *)buf + done, 0, len - done);
			return 0;
		}
		done += r;
	}
	return 0;
}

static int image_load(struct rwp_tier *t, uint32_t slot, void *page, size_t page_size)
{
	return image_load_seq(t, slot, 1, page, page_size);
}

static void image_drop(struct rwp_tier *t, uint32_t slot, size_t page_size)
{
	(void)t, (void)slot, (void)page_size;
}

static uint64_t image_used(struct rwp_tier *t)
{
	(void)t;
	return 0;
}

static void image_destroy(struct rwp_tier *t)
{
	struct image *im = (struct image *)t;

	close(im->fd);
	free(im);
}

static const struct rwp_tier_ops image_ops = {
	.name = "image",
	.store = image_store,
	.load = image_load,
	.load_seq = image_load_seq,
	.drop = image_drop,
	.used_bytes = image_used,
	.destroy = image_destroy,
};

int rwp_image_new(int fd, off_t offset, struct rwp_tier **out)
{
	struct image *im = calloc(1, sizeof(*im));

	if (!im)
		return -ENOMEM;
	im->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (im->fd < 0) {
		int err = errno;

		free(im);
		return -err;
	}
	im->offset = offset;
	rwp_tier_init(&im->tier, &image_ops, "image");
	*out = &im->tier;
	return 0;
}
