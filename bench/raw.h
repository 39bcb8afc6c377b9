/* SPDX-License-Identifier: MIT */
/*
 * Raw tracking: a region registered with a userfaultfd of the benchmark's own, and the
 * kernel operations a backend's tick consists of, with no librwp in between. The floors
 * (floors.c) time them one by one; the slowdown floor (slowdown.c) ticks with them.
 */
#ifndef RWP_BENCH_RAW_H
#define RWP_BENCH_RAW_H

#include "bench.h"

#include <linux/fs.h>

struct raw {
	enum rwp_backend b;
	const struct guestmem *g;
	int uffd, pagemap;
	struct page_region *vec; /* the last scan's runs */
	size_t cap, n;
	/* minor: the thread resolving MINOR faults with UFFDIO_CONTINUE */
	int efd, cpu, handler_err;
	bool handler;
	pthread_t thread;
};

/* Register all of g for backend b's kind of tracking; a minor handler runs on cpu. */
int raw_open(struct raw *x, enum rwp_backend b, const struct guestmem *g, int cpu,
	     const char **step);
/* Stop the handler and close the uffd (which unregisters: g is plain memory again). */
void raw_close(struct raw *x);

/* PAGEMAP_SCAN over g into x->vec; *ns (if not NULL) gets the time it took. */
int raw_scan(struct raw *x, uint64_t flags, uint64_t mask, uint64_t anyof, uint64_t ret_mask,
	     uint64_t *ns);

typedef int (*raw_act_fn)(struct raw *x, uintptr_t start, uintptr_t end);
int raw_zap(struct raw *x, uintptr_t start, uintptr_t end);
int raw_rwprotect(struct raw *x, uintptr_t start, uintptr_t end);
int raw_wprotect(struct raw *x, uintptr_t start, uintptr_t end);

/* act over all of g, or once per run of the last scan; *ns gets the time */
int raw_whole(struct raw *x, raw_act_fn act, uint64_t *ns);
int raw_each_run(struct raw *x, raw_act_fn act, uint64_t *ns);

/* Start the first interval (what librwp's arm does). */
int raw_arm(struct raw *x);
/*
 * One interval's kernel work, as cheap as the kernel allows: the backend's scan, then one
 * zap / RWPROTECT over the whole region (cheaper than one per run at these hot fractions).
 */
int raw_tick(struct raw *x);

#endif
