// SPDX-License-Identifier: MIT
/*
 * Tracking at the edges: memory first touched while tracked, mprotect, fork, the guest's own
 * MADV_DONTNEED, munmap and mremap of tracked memory, freeing a context under load, and bad
 * arguments. Every case runs on each memory type x backend the kernel offers and checks the
 * hot set, dirty set and ages of every interval against what the test did, page by page.
 */
#define _GNU_SOURCE
#include "../lib/guestmem.h"
#include "../lib/combos.h"
#include "../lib/tap.h"
#include "../lib/truth.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TAP_DEFINE;

#define REGION_BYTES (32UL << 20)
#define MAX_REGIONS 3
#define CASE_TIMEOUT_S 90
#define CHILD_TIMEOUT_S 30
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct tregion {
	struct guestmem g;
	struct truth t;
	struct rwp_region *r;
	bool live; /* checked at each tick (not unmapped or moved by the test) */
};

struct env {
	enum rwp_mem mem;
	enum rwp_backend backend;
	struct rwp_ctx *ctx;
	struct tregion tr[MAX_REGIONS];
	int n;
	int iv;
	uint64_t seed;
};

/* ------------------------------------------------------------------ helpers -- */

static const char *filter; /* -f: only cases whose name has this */
static bool list;	     /* -l: print the case names */

static void msleep(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Roughly one page in `one_in`, but at least a few pages of a small hugetlb region. */
static unsigned int density(const struct tregion *x)
{
	return x->g.nr_pages < 64 ? 3 : 10;
}

/* Map len bytes; holes: nothing in the page cache yet (hugetlb pages punched out). */
static int env_map(struct env *e, struct tregion *x, size_t len, bool holes, const char **why)
{
	int ret = guestmem_map(&x->g, e->mem, len, why);

	if (ret)
		return ret;
	if (holes && e->mem == RWP_MEM_HUGETLB &&
	    fallocate(x->g.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, len)) {
		*why = "cannot punch hugetlbfs pages";
		return -errno;
	}
	if (truth_init(&x->t, &x->g))
		return -ENOMEM;
	return 0;
}

static int env_register(struct env *e, struct tregion *x)
{
	struct rwp_region_info info;
	int ret = guestmem_register(e->ctx, &x->g, e->backend, 0, &x->r);

	if (ret)
		return ret;
	rwp_region_info(x->r, &info);
	truth_sees(&x->t, info.sees);
	x->live = true;
	return 0;
}

/*
 * Map, populate the pages [0, populated) and register a region of len bytes. Returns
 * 1 with *why set when the machine cannot provide the memory.
 */
static int env_region(struct env *e, size_t len, size_t populated, struct tregion **out,
		      const char **why)
{
	struct tregion *x = &e->tr[e->n];
	int ret = env_map(e, x, len, populated < len, why);

	if (ret)
		return 1;
	e->n++;
	truth_populate(&x->t, 0, populated / x->g.page_size);
	ret = env_register(e, x);
	if (ret) {
		tap_diag("register: %s", rwp_ctx_last_error(e->ctx));
		return ret;
	}
	*out = x;
	return 0;
}

/* End the interval: the tick's count and every live region must match the truth. */
static bool tick_check(struct env *e, const char *what)
{
	char label[128];
	int64_t want = 0, hot;
	bool ok = true;

	for (int i = 0; i < e->n; i++)
		if (e->tr[i].live)
			want += truth_expected_hot(&e->tr[i].t);
	hot = rwp_track_tick(e->ctx);
	if (hot != want) {
		tap_diag("%s: interval %d: tick says %lld hot, truth %lld (%s)", what, e->iv,
			 (long long)hot, (long long)want, rwp_ctx_last_error(e->ctx));
		ok = false;
	}
	for (int i = 0; i < e->n; i++) {
		struct tregion *x = &e->tr[i];

		snprintf(label, sizeof(label), "%s: interval %d region %d", what, e->iv, i);
		if (x->live)
			ok &= truth_check(&x->t, x->r, label);
		else
			memset(x->t.touch, 0, x->t.nr_pages);
	}
	e->iv++;
	return ok;
}

static bool wait_gone(struct rwp_region *r, double timeout_s)
{
	struct rwp_region_info info;
	double end = now_s() + timeout_s;

	do {
		rwp_region_info(r, &info);
		if (info.gone)
			return true;
		msleep(1);
	} while (now_s() < end);
	return false;
}

/* Wait for a child; -1 if it did not exit in time (it is killed). */
static int wait_child(pid_t pid, int timeout_s)
{
	double end = now_s() + timeout_s;
	int status;

	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return status;
		if (w < 0 && errno != EINTR)
			return -1;
		if (now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		msleep(1);
	}
}

static void env_free(struct env *e)
{
	rwp_ctx_free(e->ctx);
	e->ctx = NULL;
	for (int i = 0; i < MAX_REGIONS; i++) {
		guestmem_unmap(&e->tr[i].g);
		truth_free(&e->tr[i].t);
	}
}

/* ------------------------------------------------------------------- cases -- */

/* Nothing touched before registration: first touches in an interval are its hot set. */
static bool case_unpopulated(struct env *e, const char **skip)
{
	struct tregion *x;

	RWP_OPTS(rwp_ctx_opts, co, .flags = RWP_CTX_PIN_HANDLER);
	cpu_set_t all, one;
	bool pinned = false;
	size_t n;

	/*
	 * The fault thread on this thread's CPU: a fault it resolves wakes us on its CPU, so
	 * we run (and tick) before it goes on, as soon as the kernel lets us. Whatever it
	 * records of an access must be recorded before that wake.
	 */
	if (!sched_getaffinity(0, sizeof(all), &all)) {
		co.handler_cpu = sched_getcpu();
		CPU_ZERO(&one);
		CPU_SET(co.handler_cpu, &one);
		rwp_ctx_free(e->ctx);
		e->ctx = NULL;
		CHECK(!rwp_ctx_new(&co, &e->ctx), fail, "context with a pinned fault thread");
		pinned = !sched_setaffinity(0, sizeof(one), &one);
	}
	if (env_region(e, REGION_BYTES, 0, &x, skip))
		goto fail;
	n = x->g.nr_pages;
	CHECK(!rwp_track_start(e->ctx), fail, "start: %s", rwp_ctx_last_error(e->ctx));
	/* a first touch right before each tick: the tick must already count it */
	for (size_t pg = 1, k = 0; pg < n && k < 128; pg += n / 128 + 1, k++) {
		if (k % 2)
			truth_read(&x->t, pg);
		else
			truth_write(&x->t, pg, stamp(pg, 1));
		CHECK(tick_check(e, "a first touch just before the tick"), fail, "not exact");
	}
	if (pinned)
		sched_setaffinity(0, sizeof(all), &all);
	for (int i = 0; i < 4; i++) {
		truth_touch_random(&x->t, 0, x->g.nr_pages, density(x), e->iv + 1, &e->seed);
		CHECK(tick_check(e, "unpopulated"), fail, "hot set not exact");
	}
	return true;
fail:
	if (pinned)
		sched_setaffinity(0, sizeof(all), &all);
	return false;
}

/*
 * Half the region populated; the other half is first touched intervals after start. Those
 * pages are hot in the interval of their first touch and age normally afterwards.
 */
static bool case_populated_later(struct env *e, const char **skip)
{
	struct tregion *x;
	size_t half, n;
	uint8_t *first;

	if (env_region(e, REGION_BYTES, REGION_BYTES / 2, &x, skip))
		return false;
	n = x->g.nr_pages;
	half = n / 2;
	first = calloc(n, 1);
	CHECK(first, fail, "out of memory");
	CHECK(!rwp_track_start(e->ctx), fail, "start: %s", rwp_ctx_last_error(e->ctx));
	truth_touch_random(&x->t, 0, half, density(x), 1, &e->seed);
	CHECK(tick_check(e, "populated half only"), fail, "hot set not exact");

	/* first touches of about a quarter of the holes, reads (zeros) and writes */
	for (size_t pg = half; pg < n; pg++) {
		if (test_rand(&e->seed) % 4)
			continue;
		first[pg] = 1;
		if (pg % 2)
			truth_read(&x->t, pg);
		else
			truth_write(&x->t, pg, stamp(pg, 2));
	}
	truth_touch_random(&x->t, 0, half, density(x), 2, &e->seed);
	CHECK(tick_check(e, "first touches"), fail, "hot set not exact");

	/* half of the new pages again, and more first touches */
	for (size_t pg = half; pg < n; pg++) {
		if (first[pg] && pg % 4 < 2)
			truth_write(&x->t, pg, stamp(pg, 3));
		else if (!first[pg] && test_rand(&e->seed) % 8 == 0)
			truth_read(&x->t, pg);
	}
	CHECK(tick_check(e, "after first touches"), fail, "hot set not exact");
	CHECK(tick_check(e, "idle interval"), fail, "hot set not exact");
	for (size_t pg = half; pg < n; pg++)
		if (first[pg])
			truth_read(&x->t, pg);
	CHECK(tick_check(e, "new pages read again"), fail, "hot set not exact");
	free(first);
	return true;
fail:
	free(first);
	return false;
}

/*
 * mprotect splits the VMA but changes nothing userfaultfd tracks: the hot set stays exact
 * while part of the region is read-only and after it is writable again.
 */
static bool case_mprotect(struct env *e, const char **skip)
{
	struct tregion *x;
	size_t n, lo, hi, ps;

	if (env_region(e, REGION_BYTES, REGION_BYTES, &x, skip))
		return false;
	n = x->g.nr_pages;
	ps = x->g.page_size;
	lo = n / 4;
	hi = n / 2;
	CHECK(!rwp_track_start(e->ctx), fail, "start: %s", rwp_ctx_last_error(e->ctx));
	truth_touch_random(&x->t, 0, n, density(x), 1, &e->seed);
	CHECK(!mprotect(x->g.base + lo * ps, (hi - lo) * ps, PROT_READ), fail, "mprotect: %m");
	for (size_t pg = lo; pg < hi; pg += 3)
		truth_read(&x->t, pg);
	CHECK(tick_check(e, "read-only part, tick while read-only"), fail, "not exact");

	for (size_t pg = lo + 1; pg < hi; pg += 4)
		truth_read(&x->t, pg);
	truth_touch_random(&x->t, hi, n - hi, density(x), 2, &e->seed);
	CHECK(!mprotect(x->g.base + lo * ps, (hi - lo) * ps, PROT_READ | PROT_WRITE), fail,
	      "mprotect: %m");
	for (size_t pg = lo; pg < hi; pg += 5)
		truth_write(&x->t, pg, stamp(pg, 2));
	CHECK(tick_check(e, "read-only then writable again"), fail, "not exact");

	for (int i = 0; i < 2; i++) {
		truth_touch_random(&x->t, 0, n, density(x), 3 + i, &e->seed);
		CHECK(tick_check(e, "after mprotect"), fail, "not exact");
	}
	return true;
fail:
	return false;
}

/*
 * A child forked while tracking runs (with or without EVENT_FORK on the context) reads and
 * writes the second half of the region and exits; it must not hang. Only the parent's own
 * accesses are in the parent's hot set; the child's writes are visible through shared memory.
 */
static bool case_fork(struct env *e, const char **skip)
{
	struct tregion *x;
	size_t n, half;
	int status;
	pid_t pid;

	if (env_region(e, REGION_BYTES, REGION_BYTES, &x, skip))
		return false;
	n = x->g.nr_pages;
	half = n / 2;
	CHECK(!rwp_track_start(e->ctx), fail, "start: %s", rwp_ctx_last_error(e->ctx));
	truth_touch_random(&x->t, 0, half, density(x), 1, &e->seed);

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0, fail, "fork: %m");
	if (pid == 0) {
		alarm(CHILD_TIMEOUT_S);
		for (size_t pg = half; pg < n; pg++) {
			if (pg % 3 == 0)
				truth_write(&x->t, pg, stamp(pg, 100));
			else
				truth_read(&x->t, pg);
		}
		_exit(x->t.bad_data ? 2 : 0);
	}
	status = wait_child(pid, CHILD_TIMEOUT_S + 5);
	CHECK(status >= 0, fail, "child did not exit within %d s", CHILD_TIMEOUT_S + 5);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, fail,
	      "child %s %d (2: it read wrong data, SIGALRM: it hung)",
	      WIFEXITED(status) ? "exited with" : "killed by signal",
	      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	truth_touch_random(&x->t, 0, half, density(x), 2, &e->seed);
	CHECK(tick_check(e, "fork: parent's accesses only"), fail, "not exact");

	/* the child's writes: shared memory shows them, private anon memory does not */
	for (size_t pg = half; pg < n; pg++) {
		if (pg % 3)
			continue;
		if (e->mem != RWP_MEM_ANON)
			x->t.shadow[pg] = stamp(pg, 100);
		truth_read(&x->t, pg);
	}
	CHECK(tick_check(e, "fork: the child's pages read by the parent"), fail, "not exact");
	truth_touch_random(&x->t, 0, n, density(x), 3, &e->seed);
	CHECK(tick_check(e, "fork: afterwards"), fail, "not exact");
	return true;
fail:
	return false;
}

/*
 * The guest drops pages with MADV_DONTNEED while they are tracked: shared memory keeps the
 * data, private anon pages read back as zeros; dropping is not an access, and what is
 * touched afterwards is hot, exactly.
 */
static bool case_dontneed(struct env *e, const char **skip)
{
	struct tregion *x;
	size_t n, lo, hi, ps;

	if (env_region(e, REGION_BYTES, REGION_BYTES, &x, skip))
		return false;
	n = x->g.nr_pages;
	ps = x->g.page_size;
	lo = n / 4;
	hi = lo + n / 4;
	CHECK(!rwp_track_start(e->ctx), fail, "start: %s", rwp_ctx_last_error(e->ctx));
	truth_touch_random(&x->t, 0, n, density(x), 1, &e->seed);
	CHECK(tick_check(e, "before MADV_DONTNEED"), fail, "not exact");

	CHECK(!madvise(x->g.base + lo * ps, (hi - lo) * ps, MADV_DONTNEED), fail,
	      "madvise: %m");
	if (e->mem == RWP_MEM_ANON)
		memset(&x->t.shadow[lo], 0, (hi - lo) * sizeof(x->t.shadow[0]));
	for (size_t pg = lo; pg < hi; pg++) {
		if (pg % 3 == 0)
			truth_read(&x->t, pg);
		else if (pg % 3 == 1)
			truth_write(&x->t, pg, stamp(pg, 2));
	}
	truth_touch_random(&x->t, hi, n - hi, density(x), 2, &e->seed);
	CHECK(tick_check(e, "interval of MADV_DONTNEED"), fail, "not exact");

	for (size_t pg = lo; pg < hi; pg++)
		if (pg % 3 == 2)
			truth_read(&x->t, pg);
	truth_touch_random(&x->t, 0, lo, density(x), 3, &e->seed);
	CHECK(tick_check(e, "after MADV_DONTNEED"), fail, "not exact");
	truth_touch_random(&x->t, 0, n, density(x), 4, &e->seed);
	CHECK(tick_check(e, "later"), fail, "not exact");

	/* a second drop, in the same interval as other accesses to the same range */
	for (size_t pg = 0; pg < lo; pg += 2)
		truth_read(&x->t, pg);
	CHECK(!madvise(x->g.base + hi * ps, (n - hi) * ps, MADV_DONTNEED), fail, "madvise: %m");
	if (e->mem == RWP_MEM_ANON)
		memset(&x->t.shadow[hi], 0, (n - hi) * sizeof(x->t.shadow[0]));
	for (size_t pg = hi; pg < n; pg += 7)
		truth_read(&x->t, pg);
	CHECK(tick_check(e, "second drop"), fail, "not exact");
	return true;
fail:
	return false;
}

/*
 * Regions unmapped while tracked, one whole and one in part: ticks go on for the region
 * left, both become gone, what is left of the partly unmapped one works normally.
 */
static bool case_munmap(struct env *e, const char **skip)
{
	struct tregion *a, *p, *c;
	size_t len = REGION_BYTES / 2, ps, half;

	if (env_region(e, len, len, &a, skip) || env_region(e, len, len, &p, skip) ||
	    env_region(e, len, len, &c, skip))
		return false;
	ps = p->g.page_size;
	half = p->g.nr_pages / 2;
	CHECK(!rwp_track_start(e->ctx), fail, "start: %s", rwp_ctx_last_error(e->ctx));
	for (int i = 0; i < e->n; i++)
		truth_touch_random(&e->tr[i].t, 0, e->tr[i].g.nr_pages, density(c), 1, &e->seed);
	CHECK(tick_check(e, "three regions"), fail, "not exact");

	truth_touch_random(&a->t, 0, a->g.nr_pages, density(a), 2, &e->seed);
	CHECK(!munmap(a->g.base, a->g.len), fail, "munmap: %m");
	a->g.base = NULL;
	a->live = false;
	CHECK(!munmap(p->g.base, half * ps), fail, "munmap: %m");
	p->live = false;
	CHECK(wait_gone(a->r, 5), fail, "unmapped region not gone after 5 s");
	CHECK(wait_gone(p->r, 5), fail, "partly unmapped region not gone after 5 s");
	/* what is left of p is ordinary memory again */
	for (size_t pg = half; pg < p->g.nr_pages; pg++) {
		if (pg % 2)
			truth_read(&p->t, pg);
		else
			truth_write(&p->t, pg, stamp(pg, 2));
	}
	CHECK(!p->t.bad_data, fail, "the rest of the partly unmapped region lost data");
	truth_touch_random(&c->t, 0, c->g.nr_pages, density(c), 2, &e->seed);
	CHECK(tick_check(e, "after munmap"), fail, "not exact");

	truth_touch_random(&c->t, 0, c->g.nr_pages, density(c), 3, &e->seed);
	CHECK(tick_check(e, "later"), fail, "not exact");
	CHECK(rwp_region_unregister(a->r) == 0, fail, "unregister unmapped: %s",
	      rwp_ctx_last_error(e->ctx));
	a->r = NULL;
	CHECK(rwp_region_unregister(p->r) == 0, fail, "unregister partly unmapped: %s",
	      rwp_ctx_last_error(e->ctx));
	p->r = NULL;
	for (size_t pg = half; pg < p->g.nr_pages; pg++)
		truth_read(&p->t, pg);
	CHECK(!p->t.bad_data, fail, "data lost after unregister");
	truth_touch_random(&c->t, 0, c->g.nr_pages, density(c), 4, &e->seed);
	CHECK(tick_check(e, "after unregister"), fail, "not exact");
	return true;
fail:
	return false;
}

/* An address for len bytes aligned to ps (for hugetlb), reserved PROT_NONE. */
static uint8_t *reserve(size_t len, size_t ps)
{
	uint8_t *p = mmap(NULL, len + ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + ps - 1) & ~(ps - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((uint8_t *)a + len, (uintptr_t)p + ps - a);
	return (uint8_t *)a;
}

static size_t verify_words(struct tregion *x, uint8_t *base, size_t first, size_t n)
{
	struct guestmem view = x->g;
	size_t bad = 0;

	view.base = base - first * x->g.page_size;
	for (size_t pg = first; pg < first + n; pg++) {
		if (*probe_word(&view, pg) != x->t.shadow[pg])
			bad++;
		*probe_word(&view, pg) = stamp(pg, 9);
		x->t.shadow[pg] = stamp(pg, 9);
	}
	return bad;
}

/*
 * Regions moved by mremap, whole and in part: the moved memory and the rest are ordinary
 * memory with their data, the regions are gone, the region left is still exact.
 */
static bool case_mremap(struct env *e, const char **skip)
{
	struct tregion *m, *p, *c;
	size_t len = REGION_BYTES / 2, ps, q, bad;
	uint8_t *to_m = NULL, *to_p = NULL;

	if (env_region(e, len, len, &m, skip) || env_region(e, len, len, &p, skip) ||
	    env_region(e, len, len, &c, skip))
		return false;
	ps = m->g.page_size;
	q = p->g.nr_pages * 3 / 4;
	CHECK(!rwp_track_start(e->ctx), fail, "start: %s", rwp_ctx_last_error(e->ctx));
	for (int i = 0; i < e->n; i++)
		truth_touch_random(&e->tr[i].t, 0, e->tr[i].g.nr_pages, density(c), 1, &e->seed);
	CHECK(tick_check(e, "three regions"), fail, "not exact");

	to_m = reserve(len, ps);
	to_p = reserve((p->g.nr_pages - q) * ps, ps);
	CHECK(to_m && to_p, fail, "cannot reserve address space");
	CHECK(mremap(m->g.base, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to_m) == to_m, fail,
	      "mremap: %m");
	m->g.base = to_m;
	m->live = false;
	CHECK(mremap(p->g.base + q * ps, len - q * ps, len - q * ps, MREMAP_MAYMOVE | MREMAP_FIXED,
		     to_p) == to_p,
	      fail, "mremap: %m");
	p->live = false;
	CHECK(wait_gone(m->r, 5), fail, "moved region not gone after 5 s");
	CHECK(wait_gone(p->r, 5), fail, "partly moved region not gone after 5 s");
	bad = verify_words(m, to_m, 0, m->g.nr_pages);
	CHECK(!bad, fail, "%zu pages of the moved region read back wrong", bad);
	bad = verify_words(p, p->g.base, 0, q) + verify_words(p, to_p, q, p->g.nr_pages - q);
	CHECK(!bad, fail, "%zu pages of the partly moved region read back wrong", bad);
	truth_touch_random(&c->t, 0, c->g.nr_pages, density(c), 2, &e->seed);
	CHECK(tick_check(e, "after mremap"), fail, "not exact");

	truth_touch_random(&c->t, 0, c->g.nr_pages, density(c), 3, &e->seed);
	CHECK(tick_check(e, "later"), fail, "not exact");
	CHECK(rwp_region_unregister(m->r) == 0, fail, "unregister moved: %s",
	      rwp_ctx_last_error(e->ctx));
	m->r = NULL;
	CHECK(rwp_region_unregister(p->r) == 0, fail, "unregister partly moved: %s",
	      rwp_ctx_last_error(e->ctx));
	p->r = NULL;
	bad = verify_words(m, to_m, 0, m->g.nr_pages) + verify_words(p, p->g.base, 0, q) +
	      verify_words(p, to_p, q, p->g.nr_pages - q);
	CHECK(!bad, fail, "%zu pages read back wrong after unregister", bad);
	munmap(to_p, (p->g.nr_pages - q) * ps);
	return true;
fail:
	if (to_p)
		munmap(to_p, (p->g.nr_pages - q) * ps);
	return false;
}

/* Threads that keep reading and writing their own pages and check every value they read. */
struct busy {
	struct tregion *x;
	int id, nr;
	atomic_bool *stop;
	atomic_size_t *bad;
	atomic_size_t rounds;
};

static void *busy_thread(void *arg)
{
	struct busy *b = arg;
	struct tregion *x = b->x;
	unsigned int gen = 10;

	while (!atomic_load(b->stop)) {
		for (size_t pg = b->id; pg < x->g.nr_pages; pg += b->nr) {
			uint64_t v = *probe_word(&x->g, pg);

			if (v != x->t.shadow[pg])
				atomic_fetch_add(b->bad, 1);
			if ((pg / b->nr + gen) % 4 == 0) {
				x->t.shadow[pg] = stamp(pg, gen);
				*probe_word(&x->g, pg) = x->t.shadow[pg];
			}
		}
		gen++;
		atomic_fetch_add(&b->rounds, 1);
	}
	return NULL;
}

/*
 * The context goes away (its uffd closed) while threads keep touching the memory: with its
 * regions never unregistered, or unregistered first. No thread hangs, no data is lost.
 */
static bool run_busy(struct env *e, const char **skip, bool unregister_first)
{
	struct tregion *x;
	struct busy b[2];
	pthread_t t[2];
	atomic_bool stop = false;
	atomic_size_t bad = 0;
	int started = 0;
	bool ok = false;

	if (env_region(e, REGION_BYTES, REGION_BYTES, &x, skip))
		return false;
	CHECK(!rwp_track_start(e->ctx), out, "start: %s", rwp_ctx_last_error(e->ctx));
	for (; started < 2; started++) {
		b[started] = (struct busy){ .x = x, .id = started, .nr = 2, .stop = &stop,
					    .bad = &bad };
		CHECK(!pthread_create(&t[started], NULL, busy_thread, &b[started]), out,
		      "pthread_create");
	}
	for (int i = 0; i < 3; i++) {
		int64_t hot;

		msleep(20);
		hot = rwp_track_tick(e->ctx);
		CHECK(hot >= 0 && hot <= (int64_t)x->g.nr_pages, out, "tick: %lld: %s",
		      (long long)hot, rwp_ctx_last_error(e->ctx));
	}
	if (unregister_first) {
		CHECK(!rwp_region_unregister(x->r), out, "unregister: %s",
		      rwp_ctx_last_error(e->ctx));
		x->r = NULL;
		CHECK(rwp_track_tick(e->ctx) == 0, out, "tick without regions");
	}
	rwp_ctx_free(e->ctx);
	e->ctx = NULL;
	{
		size_t r0 = atomic_load(&b[0].rounds) + atomic_load(&b[1].rounds);

		msleep(50);
		CHECK(atomic_load(&b[0].rounds) + atomic_load(&b[1].rounds) > r0, out,
		      "threads make no progress after the context is freed");
	}
	ok = true;
out:
	atomic_store(&stop, true);
	for (int i = 0; i < started; i++) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		if (pthread_timedjoin_np(t[i], NULL, &ts)) {
			tap_diag("thread %d still running 10 s after being stopped: hung", i);
			ok = false;
		}
	}
	if (atomic_load(&bad)) {
		tap_diag("%zu values read back wrong while the context went away",
			 (size_t)atomic_load(&bad));
		ok = false;
	}
	if (ok) {
		for (size_t pg = 0; pg < x->g.nr_pages; pg++)
			truth_read(&x->t, pg);
		if (x->t.bad_data) {
			tap_diag("%zu pages read back wrong afterwards", x->t.bad_data);
			ok = false;
		}
	}
	return ok;
}

static bool case_free_registered(struct env *e, const char **skip)
{
	return run_busy(e, skip, false);
}

static bool case_free_unregistered(struct env *e, const char **skip)
{
	return run_busy(e, skip, true);
}

/* ------------------------------------------------------------ bad arguments -- */

static int quiet_ctx(struct rwp_ctx **out)
{
	RWP_OPTS(rwp_ctx_opts, o, .log_level = RWP_LOG_ERR);

	return rwp_ctx_new(&o, out);
}

/*
 * Register o on a fresh context (so that the last error is this call's): it must fail
 * with want and a last error that contains `says`.
 */
static bool expect_fail(const char *what, const struct rwp_region_opts *o, int want,
			const char *says)
{
	struct rwp_ctx *ctx;
	struct rwp_region *r = NULL;
	const char *msg;
	int ret;

	if (quiet_ctx(&ctx)) {
		tap_diag("%s: no context", what);
		return false;
	}
	ret = rwp_region_register(ctx, o, &r);
	msg = rwp_ctx_last_error(ctx);
	if (ret != want || !msg || !strstr(msg, says)) {
		tap_diag("%s: got %d (%s), last error \"%s\"; want %d (%s) and \"%s\"", what, ret,
			 strerror(-ret), msg ? msg : "(null)", want, strerror(-want), says);
		if (!ret)
			rwp_region_unregister(r);
		rwp_ctx_free(ctx);
		return false;
	}
	rwp_ctx_free(ctx);
	return true;
}

static int other_memfd(enum rwp_mem mem, size_t len)
{
	int fd = memfd_create("rwp-test-other",
			      MFD_CLOEXEC | (mem == RWP_MEM_HUGETLB ? MFD_HUGETLB : 0));

	if (fd >= 0 && ftruncate(fd, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool case_bad_args(struct env *e, const char **skip)
{
	struct guestmem g;
	const char *why = NULL;
	size_t ps, len;
	bool ok = true;
	int fd2 = -1;

	if (guestmem_map(&g, e->mem, 8 * (e->mem == RWP_MEM_HUGETLB ? 2UL << 20 : 4096), &why)) {
		*skip = why ? why : "cannot map guest memory";
		return false;
	}
	ps = g.page_size;
	len = g.len;
	RWP_OPTS(rwp_region_opts, base, .mem = e->mem, .addr = g.base, .len = len, .fd = g.fd,
		 .backend = e->backend);
	struct rwp_region_opts o;

#define TRY(what, want, says, ...)                                                         \
	do {                                                                               \
		o = base;                                                                  \
		__VA_ARGS__;                                                               \
		ok &= expect_fail(what, &o, want, says);                                   \
	} while (0)

	TRY("unaligned address", -EINVAL, "multiples", o.addr = g.base + ps / 2,
	    o.len = len - ps);
	TRY("unaligned length", -EINVAL, "multiples", o.len = len - ps / 2);
	if (e->mem != RWP_MEM_ANON)
		TRY("unaligned offset", -EINVAL, "multiples", o.offset = ps / 2, o.len = len - ps);
	TRY("zero length", -EINVAL, "empty", o.len = 0);
	TRY("NULL address", -EINVAL, "empty", o.addr = NULL);
	TRY("wrapping range", -EINVAL, "wrapping", o.addr = (void *)-ps, o.len = 2 * ps);
	TRY("unknown region flags", -EINVAL, "unknown flags", o.flags = 1u << 20);
	TRY("no memory type", -EINVAL, "mem must be", o.mem = 0);
	TRY("unknown memory type", -EINVAL, "mem must be", o.mem = 42);
	TRY("unknown backend", -EINVAL, "unknown backend", o.backend = 42);

	/* overlapping regions: on one context */
	{
		struct rwp_ctx *ctx = NULL;
		struct rwp_region *r = NULL, *r2 = NULL;
		const struct {
			size_t first, n;
		} over[] = { { 0, 8 }, { 4, 4 }, { 0, 1 }, { 7, 1 } };

		if (quiet_ctx(&ctx) || rwp_region_register(ctx, &base, &r)) {
			tap_diag("overlap: the first registration failed: %s",
				 ctx ? rwp_ctx_last_error(ctx) : "no context");
			ok = false;
		}
		for (size_t i = 0; r && i < ARRAY_LEN(over); i++) {
			o = base;
			o.addr = g.base + over[i].first * ps;
			o.len = over[i].n * ps;
			o.offset = over[i].first * ps;
			int ret = rwp_region_register(ctx, &o, &r2);

			if (ret != -EEXIST || !strstr(rwp_ctx_last_error(ctx), "overlaps")) {
				tap_diag("overlap of pages %zu+%zu: got %d, \"%s\"", over[i].first,
					 over[i].n, ret, rwp_ctx_last_error(ctx));
				ok = false;
				if (!ret)
					rwp_region_unregister(r2);
			}
		}
		rwp_ctx_free(ctx);
	}

	/* memory that is not read-write */
	if (!mprotect(g.base, len, PROT_NONE)) {
		TRY("PROT_NONE memory", -EINVAL, "not mapped read-write");
		mprotect(g.base, len, PROT_READ);
		TRY("read-only memory", -EINVAL, "not mapped read-write");
		mprotect(g.base, len, PROT_READ | PROT_WRITE);
	} else {
		tap_diag("mprotect: %m");
		ok = false;
	}

	/* a hole in the range */
	if (munmap(g.base + 3 * ps, ps) == 0) {
		TRY("range with a hole", -EINVAL, "nothing is mapped");
		if (mmap(g.base + 3 * ps, ps, PROT_READ | PROT_WRITE,
			 e->mem == RWP_MEM_ANON ? MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
						: MAP_SHARED | MAP_FIXED,
			 g.fd, e->mem == RWP_MEM_ANON ? 0 : 3 * ps) == MAP_FAILED) {
			tap_diag("cannot map the hole again: %m");
			ok = false;
		}
	}

	/* memory of another type than claimed */
	switch (e->mem) {
	case RWP_MEM_ANON:
		fd2 = other_memfd(RWP_MEM_SHMEM, len);
		TRY("anon memory claimed as shmem", -EINVAL, "not a shared mapping of fd",
		    o.mem = RWP_MEM_SHMEM, o.fd = fd2);
		break;
	case RWP_MEM_SHMEM:
		TRY("shmem claimed as anon", -EINVAL, "not private anonymous", o.mem = RWP_MEM_ANON);
		TRY("shmem claimed as hugetlb", -EINVAL, "not on hugetlbfs",
		    o.mem = RWP_MEM_HUGETLB);
		TRY("no fd", -EINVAL, "needs its backing fd", o.fd = -1);
		TRY("closed fd", -EINVAL, "needs its backing fd", o.fd = 1000);
		fd2 = other_memfd(RWP_MEM_SHMEM, len);
		TRY("fd of another memfd", -EINVAL, "not a shared mapping of fd", o.fd = fd2);
		TRY("wrong offset", -EINVAL, "not a shared mapping of fd", o.offset = ps,
		    o.len = len - ps);
		TRY("fd shorter than offset + len", -EINVAL, "shorter", o.offset = ps);
		break;
	case RWP_MEM_HUGETLB:
		TRY("hugetlb claimed as anon", -EINVAL, "not private anonymous",
		    o.mem = RWP_MEM_ANON);
		TRY("hugetlb claimed as shmem", -EINVAL, "not on tmpfs", o.mem = RWP_MEM_SHMEM);
		fd2 = other_memfd(RWP_MEM_HUGETLB, len);
		TRY("fd of another hugetlb memfd", -EINVAL, "not a shared mapping of fd", o.fd = fd2);
		TRY("wrong offset", -EINVAL, "not a shared mapping of fd", o.offset = ps,
		    o.len = len - ps);
		break;
	}

	/* an options struct from a newer library with a field this one does not know */
	{
		struct {
			struct rwp_region_opts o;
			uint64_t future;
		} big = { .o = base, .future = 1 };

		big.o.sz = sizeof(big);
		ok &= expect_fail("unknown non-zero option field", &big.o, -EINVAL, "options");
	}
	if (fd2 >= 0)
		close(fd2);
	guestmem_unmap(&g);
	return ok;
}

/* A MAP_SHARED file on a disk filesystem is none of the memory types. */
static bool case_disk_file(struct env *e, const char **skip)
{
	const char *dir = test_disk_dir();
	size_t len = 8 * (e->mem == RWP_MEM_HUGETLB ? 2UL << 20 : 4096);
	uint8_t *disk = MAP_FAILED;
	char path[256];
	bool ok = true;
	int fd;

	if (!dir) {
		*skip = "no disk filesystem to map a file from (RWP_TEST_DIR, TMPDIR, /var/tmp, "
			"/tmp and . are all in memory)";
		return false;
	}
	snprintf(path, sizeof(path), "%s/rwp-test-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd >= 0) {
		unlink(path);
		if (!ftruncate(fd, len))
			disk = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	}
	CHECK(disk != MAP_FAILED, out, "cannot map a file in %s: %m", dir);
	RWP_OPTS(rwp_region_opts, o, .mem = e->mem, .addr = disk, .len = len, .fd = fd,
		 .backend = e->backend);
	ok = expect_fail("disk file mapped MAP_SHARED", &o, -EINVAL,
			 e->mem == RWP_MEM_ANON	   ? "not private anonymous"
			 : e->mem == RWP_MEM_SHMEM ? "not on tmpfs"
						   : "not on hugetlbfs");
	o.fd = -1;
	if (e->mem != RWP_MEM_ANON)
		ok &= expect_fail("disk file mapped MAP_SHARED, no fd", &o, -EINVAL,
				  "needs its backing fd");
	munmap(disk, len);
	close(fd);
	return ok;
out:
	if (fd >= 0)
		close(fd);
	return false;
}

/* ---------------------------------------------------------------- the table -- */

struct edge_case {
	const char *name;
	bool (*run)(struct env *e, const char **skip);
	unsigned int ctx_flags;
};

static const struct edge_case edge_cases[] = {
	{ "unpopulated memory: first touches are the hot set", case_unpopulated },
	{ "pages first touched intervals after start", case_populated_later },
	{ "mprotect of part of the region while tracked", case_mprotect },
	{ "fork without EVENT_FORK", case_fork },
	{ "fork with EVENT_FORK", case_fork, RWP_CTX_EVENT_FORK },
	{ "guest MADV_DONTNEED while tracked", case_dontneed },
	{ "munmap of tracked regions", case_munmap },
	{ "mremap of tracked regions", case_mremap },
	{ "context freed under load, regions never unregistered", case_free_registered },
	{ "regions unregistered and context freed under load", case_free_unregistered },
	{ "bad arguments fail with a specific error", case_bad_args },
	{ "a disk file's mapping is refused", case_disk_file },
};

struct one {
	const struct edge_case *ec;
	const struct combo *cb;
};

/* In the case's own process: set up, run, say pass, fail or skip. */
static int run_case(void *arg, char *why, size_t why_len)
{
	struct one *o = arg;
	struct env e = { .mem = o->cb->mem, .backend = o->cb->backend };
	const char *skip = NULL;
	bool ok;

	e.seed = 1000 + e.mem * 31 + e.backend * 7 + (uint64_t)(o->ec - edge_cases) * 101;
	if (test_ctx_new(o->ec->ctx_flags, &e.ctx)) {
		tap_diag("no context");
		return TAP_FAIL;
	}
	ok = o->ec->run(&e, &skip);
	env_free(&e);
	if (!ok && skip) {
		snprintf(why, why_len, "%s", skip);
		return TAP_SKIP;
	}
	return ok ? TAP_PASS : TAP_FAIL;
}

static void run_one(const struct edge_case *ec, const struct combo *cb)
{
	const struct combo_run r = { filter, list, CASE_TIMEOUT_S };
	struct one o = { ec, cb };

	combo_run_case(&r, cb, ec->name, run_case, &o);
}

/* Forcing a backend that the kernel, the memory or the uffd lacks: -EOPNOTSUPP, and why. */
static void test_forced_unavailable(void)
{
	bool ok = true;
	int checked = 0;

	for (enum rwp_mem m = RWP_MEM_ANON; m <= RWP_MEM_HUGETLB; m++) {
		for (enum rwp_backend b = RWP_BACKEND_NATIVE; b <= RWP_BACKEND_MINOR; b++) {
			struct guestmem g;
			const char *why;

			if (backend_available(b, m, &why))
				continue;
			if (guestmem_map(&g, m, 4UL << 20, &why))
				continue;
			RWP_OPTS(rwp_region_opts, o, .mem = m, .addr = g.base, .len = g.len,
				 .fd = g.fd, .backend = b);
			char what[64];

			snprintf(what, sizeof(what), "forced %s on %s", rwp_backend_name(b),
				 rwp_mem_name(m));
			ok &= expect_fail(what, &o, -EOPNOTSUPP, rwp_backend_name(b));
			checked++;
			guestmem_unmap(&g);
		}
	}
	tap_ok(ok && checked, "forcing %d backends this kernel or memory lacks: -EOPNOTSUPP",
	       checked);
}

/* A uffd adopted from a VMM that negotiated no features: backends that need some are refused. */
static void test_adopted_bare_uffd(void)
{
	bool ok = true;
	int checked = 0;

	for (enum rwp_mem m = RWP_MEM_ANON; m <= RWP_MEM_HUGETLB; m++) {
		/* MINOR registration needs no negotiated feature: only the other two */
		for (enum rwp_backend b = RWP_BACKEND_NATIVE; b <= RWP_BACKEND_WP_ASYNC; b++) {
			struct uffdio_api api = { .api = UFFD_API };
			struct rwp_ctx *ctx = NULL;
			struct rwp_region *r = NULL;
			struct guestmem g;
			const char *why;
			int uffd, ret;

			if (!backend_available(b, m, &why) || guestmem_map(&g, m, 4UL << 20, &why))
				continue;
			uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
			if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
				tap_diag("bare uffd: %m");
				ok = false;
				goto next;
			}
			RWP_OPTS(rwp_ctx_opts, co, .flags = RWP_CTX_ADOPT_UFFD, .uffd = uffd,
				 .uffd_features = 0);
			RWP_OPTS(rwp_region_opts, o, .mem = m, .addr = g.base, .len = g.len,
				 .fd = g.fd, .backend = b);
			if (rwp_ctx_new(&co, &ctx)) {
				tap_diag("adopting a uffd failed");
				ok = false;
				goto next;
			}
			ret = rwp_region_register(ctx, &o, &r);
			if (ret != -EOPNOTSUPP || !strstr(rwp_ctx_last_error(ctx), "created without")) {
				tap_diag("%s on %s over a bare uffd: %d, \"%s\"", rwp_backend_name(b),
					 rwp_mem_name(m), ret, rwp_ctx_last_error(ctx));
				ok = false;
				if (!ret)
					rwp_region_unregister(r);
			}
			checked++;
next:
			rwp_ctx_free(ctx);
			if (uffd >= 0)
				close(uffd);
			guestmem_unmap(&g);
		}
	}
	if (!checked)
		tap_skip("backends over a uffd negotiated without features", "no backend here");
	else
		tap_ok(ok, "%d backends over a uffd negotiated without features: -EOPNOTSUPP",
		       checked);
}

static void test_ctx_bad_flags(void)
{
	struct rwp_ctx *ctx = NULL;
	RWP_OPTS(rwp_ctx_opts, o, .flags = 1u << 30);
	int ret = rwp_ctx_new(&o, &ctx);

	tap_ok(ret == -EINVAL && !ctx, "context with unknown flags: -EINVAL (got %d)", ret);
	if (!ret)
		rwp_ctx_free(ctx);
}

/* Not per memory type and backend. */
static const struct {
	const char *name;
	void (*run)(void);
} global_tests[] = {
	{ "forced backends the kernel or memory lacks", test_forced_unavailable },
	{ "forced backends over a uffd without features", test_adopted_bare_uffd },
	{ "context with unknown flags", test_ctx_bad_flags },
};

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
	for (size_t i = 0; i < ARRAY_LEN(edge_cases); i++)
		for (size_t j = 0; j < ARRAY_LEN(combos); j++)
			run_one(&edge_cases[i], &combos[j]);
	for (size_t i = 0; i < ARRAY_LEN(global_tests); i++) {
		if (filter && !strstr(global_tests[i].name, filter))
			continue;
		if (list)
			printf("%s\n", global_tests[i].name);
		else
			global_tests[i].run();
	}
	return list ? 0 : tap_done();
}
