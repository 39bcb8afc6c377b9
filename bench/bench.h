/* SPDX-License-Identifier: MIT */
/*
 * rwp-bench-track: what librwp's tracking costs per detection interval, next to the kernel
 * floors measured in the same run, the slowdown it causes a memory-bound workload, and how
 * DAMON's view of the same workload compares. Shared declarations of its parts.
 */
#ifndef RWP_BENCH_H
#define RWP_BENCH_H

#include "../tests/lib/guestmem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_opts {
	size_t mb;		/* region size */
	enum rwp_backend backend; /* AUTO: every backend the kernel has */
	enum rwp_mem mem;	/* 0: every memory type */
	bool quick;
	bool damon;
	bool damon_only;	/* part 4 alone */
	unsigned int intervals; /* measured intervals (and floor repetitions) per hot fraction */
	double run_s;		/* slowdown: seconds of untracked work per run */
	unsigned int reps;	/* slowdown: runs on each side */
	int cpu_main;		/* main thread: ticks, the touching loops of the cost part */
	int cpu_work;		/* the workload thread of the slowdown and DAMON parts */
};

/* ------------------------------------------------------------------- util.c -- */

uint64_t now_ns(void);
/* Pin the calling thread; returns 0 or -errno. */
int pin_self(int cpu);
/* Median of v[0..n) (sorts v); 0 for n == 0. */
double median_u64(uint64_t *v, size_t n);
/* A userfaultfd (syscall, else /dev/userfaultfd) after UFFDIO_API with features. */
int raw_uffd_new(uint64_t features, int *out);
/*
 * A minimal fault handler's loop: each page fault read from uffd is resolved by
 * resolve(arg, page address), which returns 0 or an errno (EEXIST: already there); until
 * efd is signalled. Returns the first errno other than EEXIST, or 0.
 */
int uffd_serve(int uffd, int efd, size_t page_size,
	       int (*resolve)(void *arg, uintptr_t addr), void *arg);
/* Sleep until an absolute CLOCK_MONOTONIC time. */
void sleep_until_ns(uint64_t t);

/*
 * CPU time other processes used since a mark, in CPUs (0.5 = half a CPU on average): the
 * machine is shared, and a busy neighbour perturbs every figure.
 */
struct load_mark {
	uint64_t busy, total, self;
};
void load_mark(struct load_mark *m);
double load_others(const struct load_mark *m);
/* ns the calling thread has waited on a runqueue so far (schedstat; 0 if unknown) */
uint64_t thread_wait_ns(void);

/* key=value summary lines, printed together after the tables */
void kv(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kv_flush(void);

/* ----------------------------------------------------------------- hotset.c -- */

/* The pages one interval touches: a deterministic, sorted set. */
struct hotset {
	double frac;
	size_t cluster;	   /* pages per hot run: 1 = scattered */
	uint64_t *pages;   /* ascending page indices */
	size_t n;
	size_t nr_written; /* how many of them the touching loop writes */
};

/* frac of nr_pages pages (at least one), in runs of `cluster` pages, chosen by seed. */
int hotset_make(struct hotset *h, size_t nr_pages, double frac, size_t cluster, uint64_t seed);
void hotset_free(struct hotset *h);
/* Does the touching loop write page pg (a third of pages), or only read it? */
bool hotset_writes(uint64_t pg);
/* Touch every page of h once in address order; returns the ns it took. */
uint64_t hotset_touch(const struct guestmem *g, const struct hotset *h);
/* Bit i set for each hot page i (written ones only if written_only); caller frees. */
uint64_t *hotset_bitmap(const struct hotset *h, size_t nr_pages, bool written_only);

/* ------------------------------------------------------------------- cost.c -- */

/* Part 1: librwp's own figures over measured intervals (medians per interval). */
struct cost {
	double scan, bookkeeping, protect; /* ns per page of the region */
	double touch_ns;		   /* the touching loop under tracking */
	double refault;			   /* ns per touched page over the untracked loop */
	int64_t want, got;		   /* hot pages: truth and the last tick's answer */
	bool exact;			   /* every tick's hot set equalled the truth */
};

int cost_measure(struct rwp_ctx *ctx, struct rwp_region *r, const struct guestmem *g,
		 const struct hotset *h, unsigned int intervals, double untracked_ns,
		 struct cost *c);

/* ----------------------------------------------------------------- floors.c -- */

/* Part 2: the same kernel work done with raw ioctls on an identical, untracked region. */
struct floors {
	bool ok;
	char why[160];
	bool has_scan, has_protect;
	double scan_report;   /* PAGEMAP_SCAN, report only, ns per page of the region */
	double scan;	      /* PAGEMAP_SCAN with the backend's flags (what a tick does) */
	double protect_runs;  /* zap / RWPROTECT one call per scanned run */
	double protect_whole; /* zap / RWPROTECT one call over the whole region */
	double protect_range; /* arming: UFFDIO_WRITEPROTECT / RWPROTECT / zap of a full region */
	double protect;	      /* the floor: min(protect_runs, protect_whole) */
	double touch_ns;      /* the touching loop on the raw-registered region */
	double refault;	      /* ns per touched page over untracked (minor: round trip) */
	size_t runs;	      /* runs the scan returned */
};

int floors_measure(const struct bench_opts *o, enum rwp_backend b, struct guestmem *g,
		   const struct hotset *h, double untracked_ns, struct floors *f);

/* --------------------------------------------------------------- slowdown.c -- */

/*
 * Part 3: a memory-bound workload over the hot set, tracked (tick every 1 s) vs not, and
 * (with_floor) vs ticking with raw ioctls.
 */
struct slowdown {
	bool ok;
	char why[160];
	double base_ns, tracked_ns; /* ns per access, medians over runs */
	double pct;
	bool has_floor;		    /* the raw-ioctl ticking side ran */
	double floor_ns, floor_pct;
	/* the same with the worker's runqueue wait taken out: robust to busy neighbours */
	double pct_nowait, floor_pct_nowait;
	uint64_t accesses;	    /* per untracked run */
	unsigned int ticks;
	double tick_mean_ms, tick_max_ms;
	bool capped;		    /* a tracked run was stopped early (rate still exact) */
};

int slowdown_measure(const struct bench_opts *o, enum rwp_backend b, struct guestmem *t,
		     const struct hotset *h, bool with_floor, struct slowdown *s);

/* Workload threads shared with the DAMON part: random reads/writes over a hot set. */
struct workload {
	const struct guestmem *g;
	const struct hotset *h;
	uint64_t accesses; /* stop after this many (0: until stop) */
	uint64_t seed;
	int cpu;
	_Atomic bool stop;
	/* results */
	uint64_t done;
	uint64_t ns;
	uint64_t wait_ns; /* of ns, the time it waited on a runqueue for a CPU */
	uint64_t sink;
	pthread_t thread;
};

int workload_start(struct workload *w);
void workload_join(struct workload *w);

/* --------------------------------------------------------------- accuracy.c -- */

/* Part 4: DAMON's view of a deterministic workload next to rwp's. Never fails the run. */
void accuracy_run(const struct bench_opts *o);

#endif
