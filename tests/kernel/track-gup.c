// SPDX-License-Identifier: MIT
/*
 * Kernel accesses through get_user_pages count as accesses: an O_DIRECT read from a disk
 * file into tracked memory and an O_DIRECT write from it, process_vm_readv/writev from
 * another process, and vmsplice of tracked pages into a pipe. The pages they cover, and
 * only those, must be hot; the data must be what the kernel moved. Run on each memory type
 * x backend the kernel offers (minor: the fault thread resolves the kernel's faults;
 * wp-async and native: the kernel resolves them itself).
 */
#define _GNU_SOURCE
#include "../lib/guestmem.h"
#include "../lib/combos.h"
#include "../lib/tap.h"
#include "../lib/truth.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

TAP_DEFINE;

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define REGION_BYTES (32UL << 20)
#define CASE_TIMEOUT_S 90
#define BLK 4096UL /* O_DIRECT alignment of buffers, offsets and lengths */
#define NR_SPANS 4

/* Byte ranges of the region a kernel access covers; some cross a page boundary. */
struct span {
	size_t off, len;
};

struct genv {
	enum rwp_mem mem;
	enum rwp_backend backend;
	struct rwp_ctx *ctx;
	struct guestmem g;
	struct truth t;
	struct rwp_region *r;
	struct span spans[NR_SPANS];
};

static const char *filter; /* -f: only cases whose name has this */
static bool list;	     /* -l: print the case names */

/* The content of the region before the test, and what a writer puts there instead. */
static uint64_t pat(size_t word)
{
	return word * 0x9e3779b97f4a7c15ULL ^ 0x0123456789abcdefULL;
}

static uint64_t pat2(size_t word)
{
	return ~pat(word) ^ 0x5555;
}

static void fill(uint64_t *dst, size_t off, size_t len, uint64_t (*p)(size_t))
{
	for (size_t i = 0; i < len / 8; i++)
		dst[i] = p(off / 8 + i);
}

/* Words of buf (which holds region bytes [off, off + len)) that differ from p. */
static size_t mismatches(const uint64_t *buf, size_t off, size_t len, uint64_t (*p)(size_t))
{
	size_t bad = 0;

	for (size_t i = 0; i < len / 8; i++)
		bad += buf[i] != p(off / 8 + i);
	return bad;
}

/*
 * Spans over a few pages: one spanning three 4 KiB pages (or inside one huge page), one
 * in the middle of a page, one across the boundary of pages 6 and 7, one at the very end.
 */
static void choose_spans(struct genv *e)
{
	size_t ps = e->g.page_size, n = e->g.nr_pages;

	e->spans[0] = (struct span){ 3 * ps, 3 * BLK };
	e->spans[1] = (struct span){ (n / 2) * ps + (ps > BLK ? 64 * BLK : 0), BLK };
	e->spans[2] = (struct span){ 7 * ps - BLK, 2 * BLK };
	e->spans[3] = (struct span){ n * ps - BLK, BLK };
}

static void note_spans(struct genv *e, int kind)
{
	for (int i = 0; i < NR_SPANS; i++) {
		size_t first = e->spans[i].off / e->g.page_size;
		size_t last = (e->spans[i].off + e->spans[i].len - 1) / e->g.page_size;

		for (size_t pg = first; pg <= last; pg++)
			truth_note(&e->t, pg, kind);
	}
}

/* End the interval: exactly the pages the kernel accessed are hot. */
static bool tick_check(struct genv *e, const char *what)
{
	int64_t want = truth_expected_hot(&e->t), hot = rwp_track_tick(e->ctx);

	if (hot != want) {
		tap_diag("%s: tick says %lld hot, truth %lld (%s)", what, (long long)hot,
			 (long long)want, rwp_ctx_last_error(e->ctx));
		truth_check(&e->t, e->r, what);
		return false;
	}
	return truth_check(&e->t, e->r, what);
}

/* Map, fill with pat(), register and start tracking. 1: skip (*why says why). */
static int setup(struct genv *e, const char **why)
{
	struct rwp_region_info info;
	int ret;

	if (guestmem_map(&e->g, e->mem, REGION_BYTES, why))
		return 1;
	fill((uint64_t *)e->g.base, 0, e->g.len, pat);
	choose_spans(e);
	if (truth_init(&e->t, &e->g) || test_ctx_new(0, &e->ctx))
		return -ENOMEM;
	ret = guestmem_register(e->ctx, &e->g, e->backend, 0, &e->r);
	if (ret) {
		tap_diag("register: %s", rwp_ctx_last_error(e->ctx));
		return ret;
	}
	rwp_region_info(e->r, &info);
	truth_sees(&e->t, info.sees);
	ret = rwp_track_start(e->ctx);
	if (ret)
		tap_diag("start: %s", rwp_ctx_last_error(e->ctx));
	return ret;
}

/* ------------------------------------------------------------------ O_DIRECT -- */

/* A file of `len` bytes of pat2() on a disk filesystem, opened O_DIRECT. */
static int direct_file(size_t len, const char **why)
{
	const char *dir = test_disk_dir();
	char path[256];
	uint64_t *buf;
	int fd, dfd;

	if (!dir) {
		*why = "no disk filesystem for O_DIRECT (RWP_TEST_DIR, TMPDIR, /var/tmp, /tmp "
		       "and . are all in memory)";
		return -1;
	}
	snprintf(path, sizeof(path), "%s/rwp-gup-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		*why = "cannot create a file in the disk directory";
		return -1;
	}
	buf = malloc(len);
	if (buf)
		fill(buf, 0, len, pat2);
	if (!buf || pwrite(fd, buf, len, 0) != (ssize_t)len || fsync(fd)) {
		free(buf);
		close(fd);
		unlink(path);
		*why = "cannot write the O_DIRECT file";
		return -1;
	}
	free(buf);
	dfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	close(fd);
	unlink(path);
	if (dfd < 0)
		*why = "the disk filesystem refuses O_DIRECT";
	return dfd;
}

/* O_DIRECT read into tracked memory: the kernel writes the pages (hot, also for anon). */
static bool case_odirect_read(struct genv *e, const char **skip)
{
	int fd = -1, ret = setup(e, skip);
	size_t bad = 0;

	if (ret)
		return false;
	fd = direct_file(e->g.len, skip);
	if (fd < 0)
		return false;
	*skip = NULL;
	for (int i = 0; i < NR_SPANS; i++) {
		struct span *s = &e->spans[i];
		ssize_t n = pread(fd, e->g.base + s->off, s->len, s->off);

		CHECK(n == (ssize_t)s->len, fail, "O_DIRECT pread of %zu bytes: %zd (%m)", s->len, n);
	}
	note_spans(e, TOUCH_WRITE);
	CHECK(tick_check(e, "O_DIRECT read into tracked pages"), fail, "not exact");
	for (int i = 0; i < NR_SPANS; i++)
		bad += mismatches((uint64_t *)(e->g.base + e->spans[i].off), e->spans[i].off,
				  e->spans[i].len, pat2);
	CHECK(!bad, fail, "%zu words differ from the file", bad);
	close(fd);
	return true;
fail:
	close(fd);
	return false;
}

/* O_DIRECT write from tracked memory: the kernel reads the pages (hot if reads are seen). */
static bool case_odirect_write(struct genv *e, const char **skip)
{
	int fd = -1, ret = setup(e, skip);
	uint64_t *buf = NULL;
	size_t bad = 0;

	if (ret)
		return false;
	fd = direct_file(e->g.len, skip);
	if (fd < 0)
		return false;
	*skip = NULL;
	for (int i = 0; i < NR_SPANS; i++) {
		struct span *s = &e->spans[i];
		ssize_t n = pwrite(fd, e->g.base + s->off, s->len, s->off);

		CHECK(n == (ssize_t)s->len, fail, "O_DIRECT pwrite of %zu bytes: %zd (%m)", s->len,
		      n);
	}
	note_spans(e, TOUCH_READ);
	CHECK(tick_check(e, "O_DIRECT write from tracked pages"), fail, "not exact");
	buf = aligned_alloc(BLK, 3 * BLK);
	CHECK(buf, fail, "out of memory");
	for (int i = 0; i < NR_SPANS; i++) {
		struct span *s = &e->spans[i];

		CHECK(pread(fd, buf, s->len, s->off) == (ssize_t)s->len, fail, "pread: %m");
		bad += mismatches(buf, s->off, s->len, pat);
	}
	CHECK(!bad, fail, "%zu words in the file differ from the memory", bad);
	free(buf);
	close(fd);
	return true;
fail:
	free(buf);
	close(fd);
	return false;
}

/* -------------------------------------------------------- process_vm_readv -- */

/*
 * Another process reads (or writes) the spans through process_vm_readv/writev and checks
 * what it read. The child exits with 0, or 2 if the data was wrong, 3 if the call failed.
 */
static bool remote_access(struct genv *e, bool write)
{
	int status = -1;
	pid_t parent = getpid(), pid;

	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY); /* Yama: let the child read us */
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0, fail, "fork: %m");
	if (pid == 0) {
		int rc = 0;

		alarm(CASE_TIMEOUT_S / 2);
		for (int i = 0; i < NR_SPANS && !rc; i++) {
			struct span *s = &e->spans[i];
			uint64_t *buf = malloc(s->len);
			struct iovec local = { buf, s->len };
			struct iovec remote = { e->g.base + s->off, s->len };
			ssize_t n;

			if (!buf)
				_exit(3);
			if (write) {
				fill(buf, s->off, s->len, pat2);
				n = process_vm_writev(parent, &local, 1, &remote, 1, 0);
			} else {
				n = process_vm_readv(parent, &local, 1, &remote, 1, 0);
			}
			if (n != (ssize_t)s->len)
				rc = 3;
			else if (!write && mismatches(buf, s->off, s->len, pat))
				rc = 2;
			free(buf);
		}
		_exit(rc);
	}
	for (int i = 0; i < CASE_TIMEOUT_S * 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
		status = -1;
	}
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	CHECK(status != -1, fail, "the child did not finish");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, fail,
	      "child: %s %d (2: read wrong data, 3: the call failed, SIGALRM: hung)",
	      WIFEXITED(status) ? "exit" : "signal",
	      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return true;
fail:
	return false;
}

static bool case_vm_readv(struct genv *e, const char **skip)
{
	if (setup(e, skip))
		return false;
	*skip = NULL;
	CHECK(remote_access(e, false), fail, "process_vm_readv");
	note_spans(e, TOUCH_READ);
	CHECK(tick_check(e, "process_vm_readv of tracked pages"), fail, "not exact");
	return true;
fail:
	return false;
}

static bool case_vm_writev(struct genv *e, const char **skip)
{
	size_t bad = 0;

	if (setup(e, skip))
		return false;
	*skip = NULL;
	CHECK(remote_access(e, true), fail, "process_vm_writev");
	note_spans(e, TOUCH_WRITE);
	CHECK(tick_check(e, "process_vm_writev into tracked pages"), fail, "not exact");
	for (int i = 0; i < NR_SPANS; i++)
		bad += mismatches((uint64_t *)(e->g.base + e->spans[i].off), e->spans[i].off,
				  e->spans[i].len, pat2);
	CHECK(!bad, fail, "%zu words differ from what the other process wrote", bad);
	return true;
fail:
	return false;
}

/* ------------------------------------------------------------------ vmsplice -- */

static bool case_vmsplice(struct genv *e, const char **skip)
{
	int p[2] = { -1, -1 };
	uint64_t *buf = NULL;
	size_t bad = 0;

	if (setup(e, skip))
		return false;
	*skip = NULL;
	CHECK(!pipe2(p, O_CLOEXEC), fail, "pipe: %m");
	buf = malloc(3 * BLK);
	CHECK(buf, fail, "out of memory");
	for (int i = 0; i < NR_SPANS; i++) {
		struct span *s = &e->spans[i];
		struct iovec iov = { e->g.base + s->off, s->len };
		ssize_t n = vmsplice(p[1], &iov, 1, 0);

		/* the default pipe (16 pages) takes every span whole */
		CHECK(n == (ssize_t)s->len, fail, "vmsplice of %zu bytes: %zd (%m)", s->len, n);
		CHECK(read(p[0], buf, s->len) == (ssize_t)s->len, fail, "read from the pipe: %m");
		bad += mismatches(buf, s->off, s->len, pat);
	}
	note_spans(e, TOUCH_READ);
	CHECK(tick_check(e, "vmsplice of tracked pages"), fail, "not exact");
	CHECK(!bad, fail, "%zu words read from the pipe differ from the memory", bad);
	free(buf);
	close(p[0]);
	close(p[1]);
	return true;
fail:
	free(buf);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	return false;
}

/* ---------------------------------------------------------------- the table -- */

struct gup_case {
	const char *name;
	bool (*run)(struct genv *e, const char **skip);
};

static const struct gup_case gup_cases[] = {
	{ "O_DIRECT read from a disk file into tracked pages", case_odirect_read },
	{ "O_DIRECT write of tracked pages to a disk file", case_odirect_write },
	{ "process_vm_readv of tracked pages by another process", case_vm_readv },
	{ "process_vm_writev into tracked pages by another process", case_vm_writev },
	{ "vmsplice of tracked pages into a pipe", case_vmsplice },
};

struct one {
	const struct gup_case *gc;
	const struct combo *cb;
};

/* In the case's own process: set up, run, say pass, fail or skip. */
static int run_case(void *arg, char *why, size_t why_len)
{
	struct one *o = arg;
	struct genv e = { .mem = o->cb->mem, .backend = o->cb->backend };
	const char *skip = NULL;
	bool ok = o->gc->run(&e, &skip);

	rwp_ctx_free(e.ctx);
	guestmem_unmap(&e.g);
	truth_free(&e.t);
	if (!ok && skip) {
		snprintf(why, why_len, "%s", skip);
		return TAP_SKIP;
	}
	return ok ? TAP_PASS : TAP_FAIL;
}

static void run_one(const struct gup_case *gc, const struct combo *cb)
{
	const struct combo_run r = { filter, list, CASE_TIMEOUT_S };
	struct one o = { gc, cb };

	combo_run_case(&r, cb, gc->name, run_case, &o);
}

int main(int argc, char **argv)
{
	for (int c; (c = getopt(argc, argv, "lf:")) != -1;) {
		if (c == 'l')
			list = true;
		else if (c == 'f')
			filter = optarg;
		else
			return fprintf(stderr, "usage: %s [-l] [-f substring]\n", argv[0]), 2;
	}
	if (!list)
		tap_init();
	for (size_t i = 0; i < ARRAY_LEN(gup_cases); i++)
		for (size_t j = 0; j < ARRAY_LEN(combos); j++)
			run_one(&gup_cases[i], &combos[j]);
	return list ? 0 : tap_done();
}
