// SPDX-License-Identifier: MIT
/*
 * Part 3: the slowdown tracking causes a memory-bound workload. One thread does a fixed
 * number of random reads and writes (3:1) over the hot set of a tracked region while the
 * main thread ticks every second. The same work on the same pages, unregistered, is the
 * baseline (another region differs in physical placement, worth +-10% here). Runs
 * alternate so that drift hits every side alike. At 10% hot a third side ticks with the
 * raw kernel operations instead of librwp: the slowdown floor of the mechanism itself.
 *
 * Pinning: the worker has cpu_work, the ticking main thread cpu_main. librwp's fault thread
 * goes where its messages come from: with the worker for minor (a MINOR round trip across
 * CPUs costs ~57 us here against ~7 us on one CPU), with the ticker otherwise, where its
 * only messages are the REMOVE events of the tick's own zaps (each zap waits until the
 * event is read: ~7 us on one CPU, ~50 us across).
 */
#define _GNU_SOURCE
#include "raw.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_NS 1000000000ULL
#define STOP_CHECK 65536 /* accesses between looks at the stop flag */
#define CAP_FACTOR 4	 /* a tracked run stops after this many times the baseline time */

static void *worker(void *arg)
{
	struct workload *w = arg;
	const struct guestmem *g = w->g;
	const uint64_t *pages = w->h->pages, n = w->h->n;
	const uint64_t words = g->page_size / 8;
	uint64_t x = w->seed | 1, sum = 0, i = 0, t0, wait0;

	pin_self(w->cpu);
	wait0 = thread_wait_ns();
	t0 = now_ns();
	while (!w->accesses || i < w->accesses) {
		uint64_t end = i + STOP_CHECK;

		if (w->accesses && end > w->accesses)
			end = w->accesses;
		for (; i < end; i++) {
			/* xorshift64: cheap next to the cache miss the access costs */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;

			uint64_t pg = pages[(unsigned __int128)x * n >> 64];
			volatile uint64_t *p = (volatile uint64_t *)(g->base + pg * g->page_size) +
					       ((x >> 12) & (words - 1));

			if (!(x & 3))
				*p = x;
			else
				sum += *p;
		}
		if (atomic_load_explicit(&w->stop, memory_order_relaxed))
			break;
	}
	w->wait_ns = thread_wait_ns() - wait0;
	w->done = i;
	w->sink = sum;
	/* last: run() polls ns to learn that the worker is done */
	__atomic_store_n(&w->ns, now_ns() - t0, __ATOMIC_RELEASE);
	return NULL;
}

int workload_start(struct workload *w)
{
	atomic_store(&w->stop, false);
	w->done = w->ns = w->wait_ns = 0;
	return -pthread_create(&w->thread, NULL, worker, w);
}

void workload_join(struct workload *w)
{
	pthread_join(w->thread, NULL);
}

/* What ticks during a run: librwp, the raw kernel operations, or nothing. */
struct ticker {
	struct rwp_ctx *ctx;
	struct raw *raw;
	unsigned int ticks;
	uint64_t sum_ns, max_ns;
};

static void tick(struct ticker *tk)
{
	uint64_t t0 = now_ns(), d;
	int64_t ret = tk->ctx ? rwp_track_tick(tk->ctx) : raw_tick(tk->raw);

	d = now_ns() - t0;
	if (ret < 0)
		fprintf(stderr, "# tick: %s\n", strerror((int)-ret));
	tk->ticks++;
	tk->sum_ns += d;
	tk->max_ns = d > tk->max_ns ? d : tk->max_ns;
}

/*
 * Run the worker to completion (or until cap_ns), ticking every second on this thread
 * when tk says what ticks. Returns the worker's ns per access, or < 0; *nowait (if not
 * NULL) gets the same without the time the worker waited for a CPU.
 */
static double run(struct workload *w, struct ticker *tk, uint64_t cap_ns, bool *capped,
		  double *nowait)
{
	uint64_t start, next;

	if (workload_start(w))
		return -1;
	start = now_ns();
	next = start + TICK_NS;
	/* join by polling: 20 ms slices on cpu_main, away from the worker's CPU */
	while (!__atomic_load_n(&w->ns, __ATOMIC_ACQUIRE)) {
		uint64_t t = now_ns();

		if (tk && t >= next) {
			tick(tk);
			next += TICK_NS;
		}
		if (cap_ns && t - start > cap_ns && !atomic_load(&w->stop)) {
			atomic_store(&w->stop, true);
			if (capped)
				*capped = true;
		}
		sleep_until_ns(t + 20000000ULL);
	}
	workload_join(w);
	if (!w->done)
		return -1;
	if (nowait)
		*nowait = (double)(w->ns - w->wait_ns) / w->done;
	return (double)w->ns / w->done;
}

/* A tracked run: a fresh context over t (arming it), ticks every second, then unregister. */
static double librwp_run(const struct bench_opts *o, enum rwp_backend b, struct workload *w,
			 struct ticker *tk, uint64_t cap_ns, struct slowdown *s, double *nowait)
{
	RWP_OPTS(rwp_ctx_opts, copts, .flags = RWP_CTX_PIN_HANDLER,
		 .handler_cpu = b == RWP_BACKEND_MINOR ? o->cpu_work : o->cpu_main);
	struct guestmem *t = (struct guestmem *)w->g;
	struct rwp_region *reg;
	double ns = -1;
	int ret;

	if ((ret = rwp_ctx_new(&copts, &tk->ctx)) ||
	    (ret = guestmem_register(tk->ctx, t, b, 0, &reg)) ||
	    (ret = rwp_track_start(tk->ctx))) {
		snprintf(s->why, sizeof(s->why), "librwp: %s: %s", strerror(-ret),
			 tk->ctx ? rwp_ctx_last_error(tk->ctx) : "");
	} else {
		ns = run(w, tk, cap_ns, &s->capped, nowait);
	}
	rwp_ctx_free(tk->ctx);
	tk->ctx = NULL;
	return ns;
}

/* The floor: the same kernel work every second with raw ioctls, no librwp. */
static double raw_run(const struct bench_opts *o, enum rwp_backend b, struct workload *w,
		      uint64_t cap_ns, struct slowdown *s, double *nowait)
{
	struct raw x = { .uffd = -1 };
	struct ticker tk = { .raw = &x };
	const char *step;
	double ns = -1;
	int ret;

	/* the raw uffd has no REMOVE events: only minor has a handler, with the worker */
	if ((ret = raw_open(&x, b, w->g, o->cpu_work, &step)) || (ret = raw_arm(&x)))
		snprintf(s->why, sizeof(s->why), "raw %s: %s", step, strerror(-ret));
	else
		ns = run(w, &tk, cap_ns, NULL, nowait);
	if (x.uffd >= 0)
		raw_close(&x);
	return ns;
}

/* ns per access as integer ps, for median_u64() */
static uint64_t ps(double ns)
{
	return (uint64_t)(ns * 1000);
}

int slowdown_measure(const struct bench_opts *o, enum rwp_backend b, struct guestmem *t,
		     const struct hotset *h, bool with_floor, struct slowdown *s)
{
	struct workload w = { .g = t, .h = h, .cpu = o->cpu_work, .seed = 0x5eed + h->n };
	size_t r = o->reps;
	uint64_t *v = calloc(6 * r, sizeof(*v));
	/* per run: wall, and without the worker's runqueue wait */
	uint64_t *base = v, *trk = v + r, *flo = v + 2 * r;
	uint64_t *base_nw = v + 3 * r, *trk_nw = v + 4 * r, *flo_nw = v + 5 * r;
	uint64_t cap_ns = (uint64_t)(CAP_FACTOR * o->run_s * 1e9);
	struct ticker tk = { 0 };
	double ns, nw = 0;

	memset(s, 0, sizeof(*s));
	if (!v) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return -ENOMEM;
	}
	/* calibrate: accesses for run_s seconds untracked, from a warm quarter-second */
	hotset_touch(t, h);
	w.accesses = 0;
	run(&w, NULL, 250000000ULL, NULL, NULL);
	ns = run(&w, NULL, 250000000ULL, NULL, &nw);
	s->accesses = nw > 0 ? (uint64_t)(o->run_s * 1e9 / nw) : 1000000;
	w.accesses = s->accesses;
	for (size_t k = 0; k < r; k++) {
		/* the baseline runs on the same pages, unregistered and all mapped */
		hotset_touch(t, h);
		if ((ns = run(&w, NULL, 0, NULL, &nw)) < 0)
			goto fail;
		base[k] = ps(ns);
		base_nw[k] = ps(nw);
		if ((ns = librwp_run(o, b, &w, &tk, cap_ns, s, &nw)) < 0)
			goto fail;
		trk[k] = ps(ns);
		trk_nw[k] = ps(nw);
		if (!with_floor)
			continue;
		if ((ns = raw_run(o, b, &w, cap_ns, s, &nw)) < 0)
			goto fail;
		flo[k] = ps(ns);
		flo_nw[k] = ps(nw);
	}
	s->base_ns = median_u64(base, r) / 1000;
	s->tracked_ns = median_u64(trk, r) / 1000;
	s->pct = 100.0 * (s->tracked_ns / s->base_ns - 1);
	s->pct_nowait = 100.0 * (median_u64(trk_nw, r) / median_u64(base_nw, r) - 1);
	if (with_floor) {
		s->has_floor = true;
		s->floor_ns = median_u64(flo, r) / 1000;
		s->floor_pct = 100.0 * (s->floor_ns / s->base_ns - 1);
		s->floor_pct_nowait = 100.0 * (median_u64(flo_nw, r) / median_u64(base_nw, r) - 1);
	}
	s->ticks = tk.ticks;
	s->tick_mean_ms = tk.ticks ? tk.sum_ns / 1e6 / tk.ticks : 0;
	s->tick_max_ms = tk.max_ns / 1e6;
	s->ok = true;
	free(v);
	return 0;
fail:
	if (!s->why[0])
		snprintf(s->why, sizeof(s->why), "the workload did not run");
	free(v);
	return -EIO;
}
