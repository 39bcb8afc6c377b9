// SPDX-License-Identifier: MIT
/*
 * The floors of part c, on a twin memfd holding the same bytes as the evicted region:
 *   capture:  what librwp must do to take a shmem page out without a freeze, 256 pages at
 *             a time: splice each page into a pipe, punch the batch, read the pipe;
 *   compress: the zero check and the codec of every non-zero page (lz4 / zstd level 1,
 *             one reused context), as zram stores them;
 *   device:   the bytes the file tier wrote, written plainly (pwrite of 1 MiB) to a new
 *             file in the same directory, then fsync(), as the tier's file is synced.
 */
#define _GNU_SOURCE
#include "tier.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define BATCH 256 /* librwp's batch: a default pipe's worth */

static bool zero_page(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t acc = 0;

	for (size_t i = 0; i < PAGE / 8; i++)
		acc |= w[i];
	return !acc;
}

static int splice_all(int in, loff_t *off, int out, size_t len)
{
	while (len) {
		ssize_t n = splice(in, off, out, NULL, len, 0);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		len -= n;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* The codec of one page into out (zstd with z, else lz4); false if it failed. */
static bool compress_page(ZSTD_CCtx *z, const uint8_t *p, void *out, size_t cap)
{
	if (z)
		return !ZSTD_isError(ZSTD_compressCCtx(z, out, cap, p, PAGE, 1));
	return LZ4_compress_default((const char *)p, out, PAGE, (int)cap) > 0;
}

int floor_capture(int fd, size_t len, const char *tier, uint64_t *cap_ns, uint64_t *comp_ns)
{
	size_t cap = ZSTD_compressBound(PAGE), pages = len / PAGE;
	uint8_t *buf = aligned_alloc(PAGE, BATCH * PAGE), *out = malloc(cap);
	bool zram = !strncmp(tier, "zram", 4), zstd = !strcmp(tier, "zram-zstd");
	ZSTD_CCtx *z = zstd ? ZSTD_createCCtx() : NULL;
	int p[2] = { -1, -1 }, ret = -ENOMEM;

	if (!buf || !out || (zstd && !z) || pipe(p))
		goto out;
	if (fcntl(p[1], F_SETPIPE_SZ, BATCH * PAGE) < (int)(BATCH * PAGE)) {
		ret = -errno;
		goto out;
	}
	ret = 0;
	*cap_ns = *comp_ns = 0;
	for (size_t first = 0; !ret && first < pages; first += BATCH) {
		size_t n = pages - first < BATCH ? pages - first : BATCH;
		uint64_t t0 = now_ns(), t1;

		for (size_t i = 0; !ret && i < n; i++) {
			loff_t off = (loff_t)((first + i) * PAGE);

			ret = splice_all(fd, &off, p[1], PAGE);
		}
		if (!ret && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)(first * PAGE), (off_t)(n * PAGE)))
			ret = -errno;
		if (!ret)
			ret = read_all(p[0], buf, n * PAGE);
		t1 = now_ns();
		*cap_ns += t1 - t0;
		for (size_t i = 0; !ret && zram && i < n; i++)
			if (!zero_page(buf + i * PAGE) && !compress_page(z, buf + i * PAGE, out, cap))
				ret = -EIO;
		*comp_ns += now_ns() - t1;
	}
out:
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	ZSTD_freeCCtx(z);
	free(buf);
	free(out);
	return ret;
}

int64_t fsync_ns(int fd)
{
	uint64_t t0 = now_ns();

	return fsync(fd) ? -errno : (int64_t)(now_ns() - t0);
}

/* One file of bytes from src, written and synced; ns from the first write on. */
static int write_file(const char *dir, const uint8_t *src, uint64_t bytes, uint64_t *ns)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	uint64_t t0 = now_ns(), done = 0;
	int64_t ret = 0;

	if (fd < 0)
		return -errno;
	while (!ret && done < bytes) {
		size_t n = bytes - done < (1UL << 20) ? bytes - done : (1UL << 20);
		ssize_t w = pwrite(fd, src + done, n, (off_t)done);

		if (w <= 0)
			ret = w < 0 ? -errno : -EIO;
		else
			done += w;
	}
	if (!ret && (ret = fsync_ns(fd)) > 0)
		ret = 0;
	*ns = now_ns() - t0;
	close(fd);
	return (int)ret;
}

int floor_device(const char *dir, const uint8_t *src, uint64_t bytes, uint64_t *ns)
{
	/*
	 * Page cache the guest kernel had given back to the host costs a host-side fault per
	 * page on first use (limits.md): up to 5x this write. librwp's pass writes into the
	 * memory its own punches just freed; a first, untimed file frees as much for the
	 * timed one, so that the floor is the device's and not the host's.
	 */
	int ret = write_file(dir, src, bytes, ns);

	return ret ? ret : write_file(dir, src, bytes, ns);
}
