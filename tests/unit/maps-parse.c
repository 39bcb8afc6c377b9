// SPDX-License-Identifier: MIT
/*
 * The /proc/pid/maps line parser (lib/core/maps.h) on the lines the kernel writes, on odd
 * but valid ones, and on malformed ones (which must give -EINVAL and never be read past
 * their NUL: every line is parsed from a heap copy of exactly its size, for ASan). Then
 * rwp_maps_walk() over this process's own mappings.
 */
#define _GNU_SOURCE
#include "../../lib/core/maps.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

TAP_DEFINE;

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Parse a heap copy of exactly strlen(line) + 1 bytes. */
static int parse(const char *line, struct rwp_vma *v)
{
	char *copy = strdup(line);
	int ret;

	if (!copy)
		abort();
	ret = rwp_maps_parse_line(copy, v);
	free(copy);
	return ret;
}

struct good {
	const char *line;
	struct rwp_vma want;
};

static const struct good goods[] = {
	{ "00400000-0040b000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n",
	  { 0x400000, 0x40b000, true, false, false, 0, 173521, "/usr/bin/dbus-daemon" } },
	/* anonymous: inode 0, no path, trailing space */
	{ "7f2b3c000000-7f2b3c021000 rw-p 00000000 00:00 0 \n",
	  { 0x7f2b3c000000, 0x7f2b3c021000, true, true, false, 0, 0, "" } },
	/* no newline at the end (the last line of a short read) */
	{ "7ffd1a8e1000-7ffd1a902000 rw-p 00000000 00:00 0                          [stack]",
	  { 0x7ffd1a8e1000, 0x7ffd1a902000, true, true, false, 0, 0, "[stack]" } },
	/* a memfd: shared, path with a space and "(deleted)" */
	{ "7f0000000000-7f0040000000 rw-s 00200000 00:01 1029                       "
	  "/memfd:rwp-test (deleted)\n",
	  { 0x7f0000000000, 0x7f0040000000, true, true, true, 0x200000, 1029,
	    "/memfd:rwp-test (deleted)" } },
	/* the top of the address space */
	{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
	  { 0xffffffffff600000, 0xffffffffff601000, false, false, false, 0, 0, "[vsyscall]" } },
	/* PROT_NONE guard */
	{ "7f1c8a9f0000-7f1c8a9f1000 ---p 00000000 00:00 0 \n",
	  { 0x7f1c8a9f0000, 0x7f1c8a9f1000, false, false, false, 0, 0, "" } },
	/* write-only, shared: flags are read one by one */
	{ "1000-2000 -w-s 00000000 00:00 0\n", { 0x1000, 0x2000, false, true, true, 0, 0, "" } },
	/* short addresses, big offset, a three-digit major, a big inode */
	{ "08048000-08049000 r--p 123456789000 103:02 18446744073709551615 /lib/x.so\n",
	  { 0x8048000, 0x8049000, true, false, false, 0x123456789000, UINT64_MAX, "/lib/x.so" } },
	/* spaces inside the path are kept, and so is its end */
	{ "1000-3000 rw-s 00001000 fd:01 42 /tmp/a b/c  d \n",
	  { 0x1000, 0x3000, true, true, true, 0x1000, 42, "/tmp/a b/c  d " } },
	/* upper-case hex is still hex */
	{ "7F00-8F00 rw-p 0000ABCD 0A:0B 7 /x\n",
	  { 0x7f00, 0x8f00, true, true, false, 0xabcd, 7, "/x" } },
	/* a path that only has the newline */
	{ "1000-2000 rw-p 00000000 00:00 0\n", { 0x1000, 0x2000, true, true, false, 0, 0, "" } },
};

static bool same(const struct rwp_vma *a, const struct rwp_vma *b)
{
	return a->start == b->start && a->end == b->end && a->read == b->read &&
	       a->write == b->write && a->shared == b->shared && a->offset == b->offset &&
	       a->inode == b->inode && !strcmp(a->path, b->path);
}

static void show(const char *what, const struct rwp_vma *v)
{
	tap_diag("%s: %#" PRIxPTR "-%#" PRIxPTR " %c%c%c off %#" PRIx64 " ino %" PRIu64 " \"%s\"",
		 what, v->start, v->end, v->read ? 'r' : '-', v->write ? 'w' : '-',
		 v->shared ? 's' : 'p', v->offset, v->inode, v->path);
}

static void test_good(void)
{
	for (size_t i = 0; i < ARRAY_LEN(goods); i++) {
		struct rwp_vma v;
		int ret = parse(goods[i].line, &v);
		bool ok = ret == 0 && same(&v, &goods[i].want);

		if (!ok) {
			tap_diag("line: %s", goods[i].line);
			tap_diag("returned %d", ret);
			show("got ", &v);
			show("want", &goods[i].want);
		}
		tap_ok(ok, "valid line %zu parses to its fields", i);
	}
}

/* A path longer than the 63 characters kept: truncated, terminated, never overflowing. */
static void test_long_path(void)
{
	char line[512], path[300];
	struct rwp_vma v;
	int ret;

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	snprintf(line, sizeof(line), "1000-2000 r--s 00000000 00:05 9 %s\n", path);
	memset(&v, 0xa5, sizeof(v));
	ret = parse(line, &v);
	tap_ok(ret == 0 && strlen(v.path) == sizeof(v.path) - 1 &&
		       !strncmp(v.path, path, sizeof(v.path) - 1) && v.inode == 9,
	       "a long path is truncated to %zu characters", sizeof(v.path) - 1);
}

static const char *const bads[] = {
	"",
	"\n",
	" ",
	"00400000",
	"00400000-",
	"00400000-\n",
	"00400000 0040b000 r-xp 00000000 08:02 1 /x\n", /* no dash */
	"00400000-0040b000\n",				/* nothing after the range */
	"00400000-0040b000 ",
	"00400000-0040b000 r-x",			       /* short permissions */
	"00400000-0040b000 r-xp",			       /* nothing after them */
	"00400000-0040b000 r-xpq 00000000 08:02 1 /x\n",     /* five permission characters */
	"00400000-0040b000 r-xp 00000000\n",		       /* no device */
	"00400000-0040b000 r-xp 00000000 08:02\n",	       /* no inode */
	"00400000-0040b000 r-xp 00000000 08:02 \n",
	"00400000-0040b000 r-xp 00000000 0802 1 /x\n",	       /* device without colon */
	"00400000-0040b000 r-xp 00000000 08: 1 /x\n",
	"00400000-0040b000 r-xp 00000000 :02 1 /x\n",
	"00400000-0040b000 r-xp 00000000 08:02 x /x\n",       /* inode not a number */
	"00400000-0040b000 r-xp 0000zz00 08:02 1 /x\n",       /* offset not hex */
	"zz400000-0040b000 r-xp 00000000 08:02 1 /x\n",       /* start not hex */
	"00400000-0040zz00 r-xp 00000000 08:02 1 /x\n",       /* end not hex */
	"0040b000-00400000 r-xp 00000000 08:02 1 /x\n",       /* start after end */
	"00400000-00400000 r-xp 00000000 08:02 1 /x\n",       /* empty */
	"10000000000000000-10000000000000001 rw-p 00000000 00:00 0\n", /* 65-bit */
	"1000-2000 rw-p 10000000000000000 00:00 0\n",
	"1000-2000 rw-p 00000000 00:00 99999999999999999999\n", /* inode overflows */
	/* not the kernel's format: signs, blanks and 0x inside numbers, odd permissions */
	"+1000-2000 rw-p 00000000 00:00 0\n",
	" 1000-2000 rw-p 00000000 00:00 0\n",
	"1000--1 rw-p 00000000 00:00 0\n",
	"1000- 2000 rw-p 00000000 00:00 0\n",
	"0x1000-0x2000 rw-p 00000000 00:00 0\n",
	"1000-2000 rw-p -1 00:00 0\n",
	"1000-2000 rw-p 0x0 00:00 0\n",
	"1000-2000 rw-p 00000000 -1:00 0\n",
	"1000-2000 rw-p 00000000 00:00 -5 /x\n",
	"1000-2000 rw-p 00000000 00:00 +5 /x\n",
	"1000-2000 rw-p 00000000 00:00 12ab /x\n",	       /* inode runs into the path */
	"1000-2000 rwxz 00000000 00:00 0\n",
	"1000-2000 xw-p 00000000 00:00 0\n",
	"1000-2000 r-rp 00000000 00:00 0\n",
	"1000-2000 rwwp 00000000 00:00 0\n",
	"1000-2000\trw-p 00000000 00:00 0\n",
};

static void test_bad(void)
{
	for (size_t i = 0; i < ARRAY_LEN(bads); i++) {
		struct rwp_vma v;
		int ret = parse(bads[i], &v);

		if (ret != -EINVAL) {
			tap_diag("returned %d for \"%.*s\"", ret, (int)strcspn(bads[i], "\n"), bads[i]);
			if (!ret)
				show("parsed", &v);
		}
		tap_ok(ret == -EINVAL, "malformed line %zu: -EINVAL", i);
	}
}

/* Every prefix of every valid line: a result, never a read past the end. */
static void test_prefixes(void)
{
	size_t n = 0, bad = 0;

	for (size_t i = 0; i < ARRAY_LEN(goods); i++) {
		size_t len = strlen(goods[i].line);

		for (size_t k = 0; k <= len; k++) {
			char *p = strndup(goods[i].line, k);
			struct rwp_vma v;
			int ret;

			if (!p)
				abort();
			ret = rwp_maps_parse_line(p, &v);
			free(p);
			n++;
			/* a line accepted must still make sense */
			if ((ret && ret != -EINVAL) || (!ret && v.start >= v.end))
				bad++;
		}
	}
	tap_ok(!bad, "%zu prefixes of valid lines: each parses or fails cleanly", n);
}

/* Random lines from the maps alphabet: no crash, and an accepted line makes sense. */
static void test_random(void)
{
	static const char alpha[] = "0123456789abcdef-: rwxps/[]\n";
	uint64_t s = 12345;
	size_t accepted = 0, bad = 0;

	for (int i = 0; i < 200000; i++) {
		char line[80];
		size_t len = (s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 58;
		struct rwp_vma v;

		for (size_t k = 0; k < len; k++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			line[k] = alpha[(s >> 33) % (sizeof(alpha) - 1)];
		}
		line[len] = 0;
		if (parse(line, &v) == 0) {
			accepted++;
			bad += v.start >= v.end || strlen(v.path) >= sizeof(v.path);
		}
	}
	tap_ok(!bad, "200000 random lines: no crash, %zu accepted, all consistent", accepted);
}

/* ---------------------------------------------------------------- the walk -- */

struct seen {
	struct rwp_vma v[8];
	int n;
	int stop_after;
};

static int collect(void *arg, const struct rwp_vma *v)
{
	struct seen *s = arg;

	if (s->n < (int)ARRAY_LEN(s->v))
		s->v[s->n] = *v;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

/* Three VMAs of one mapping (the middle one read-only), walked in order. */
static void test_walk(void)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	uint8_t *m = mmap(NULL, 6 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct seen s = { 0 };
	uintptr_t a = (uintptr_t)m;
	int ret;

	if (m == MAP_FAILED || mprotect(m + 2 * pg, 2 * pg, PROT_READ)) {
		tap_ok(false, "walk: cannot set up the mapping");
		return;
	}
	ret = rwp_maps_walk(0, a + pg, a + 5 * pg, collect, &s);
	tap_ok(ret == 0 && s.n == 3 && s.v[0].start <= a && s.v[0].end == a + 2 * pg &&
		       s.v[0].write && s.v[1].start == a + 2 * pg && s.v[1].end == a + 4 * pg &&
		       s.v[1].read && !s.v[1].write && s.v[2].start == a + 4 * pg &&
		       s.v[2].end >= a + 6 * pg && s.v[2].write && !s.v[2].shared,
	       "walk: the three VMAs over a range, in order (%d seen, returned %d)", s.n, ret);
	s = (struct seen){ .stop_after = 2 };
	ret = rwp_maps_walk(0, a, a + 6 * pg, collect, &s);
	tap_ok(ret == 42 && s.n == 2, "walk: a callback's non-zero return stops it (%d)", ret);
	s = (struct seen){ 0 };
	ret = rwp_maps_walk(0, a + 6 * pg + (64UL << 40), a + 6 * pg + (64UL << 40) + pg, collect,
			    &s);
	tap_ok(ret == 0 && s.n == 0, "walk: nothing mapped, no callback");
	ret = rwp_maps_walk(getpid(), a + 2 * pg, a + 3 * pg, collect, &(struct seen){ 0 });
	tap_ok(ret == 0, "walk: by pid");
	munmap(m, 6 * pg);
}

/* A mapped file whose path is longer than the walk's line buffer: skipped, not misread. */
static void test_walk_long_line(void)
{
	char path[1024] = "/tmp/rwp-maps-XXXXXX";
	size_t pg = sysconf(_SC_PAGESIZE);
	uint8_t *m = MAP_FAILED, *after = MAP_FAILED;
	struct seen s = { 0 };
	size_t base;
	int fd = -1, ret;

	if (!mkdtemp(path)) {
		tap_skip("walk: a path longer than a maps line buffer", "cannot create in /tmp");
		return;
	}
	base = strlen(path);
	/* three components of 200 characters: a 600+ character path */
	for (int i = 0; i < 3; i++) {
		size_t at = strlen(path);

		path[at] = '/';
		memset(path + at + 1, 'a' + i, 200);
		path[at + 201] = 0;
		if (i < 2 && mkdir(path, 0700))
			goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * pg))
		goto out;
	/* two pages of the file, then anon memory right after them */
	m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED ||
	    mmap(m, 2 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		goto out;
	after = m + 2 * pg;
	ret = rwp_maps_walk(0, (uintptr_t)m, (uintptr_t)m + 4 * pg, collect, &s);
	tap_ok(ret == 0 && s.n == 2 && s.v[0].start == (uintptr_t)m && s.v[0].shared &&
		       !s.v[0].write && s.v[0].inode && s.v[0].path[0] == '/' &&
		       s.v[1].start == (uintptr_t)after && s.v[1].write && !s.v[1].inode,
	       "walk: a %zu-character path is skipped to the next line (%d VMAs, ret %d)",
	       strlen(path), s.n, ret);
out:
	if (m == MAP_FAILED || after == MAP_FAILED)
		tap_ok(false, "walk: cannot set up a file with a long path");
	if (m != MAP_FAILED)
		munmap(m, 4 * pg);
	if (fd >= 0)
		close(fd);
	/* remove what was made, deepest first */
	unlink(path);
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(path, '/');

		if (!slash || (size_t)(slash - path) < base)
			break;
		*slash = 0;
		rmdir(path);
	}
}

int main(void)
{
	tap_init();
	test_good();
	test_long_path();
	test_bad();
	test_prefixes();
	test_random();
	test_walk();
	test_walk_long_line();
	return tap_done();
}
