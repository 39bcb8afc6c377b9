/* SPDX-License-Identifier: MIT */
/*
 * DAMON through its sysfs interface (/sys/kernel/mm/damon/admin): one kdamond of our own
 * with one context, one target and a 'stat' scheme that matches every region, so that
 * update_schemes_tried_regions lists each region with its nr_accesses.
 *
 * Every function returns 0 or -errno and, on failure, says why in why[] (never exits):
 * the benchmark goes on without DAMON.
 */
#ifndef RWP_BENCH_DAMON_H
#define RWP_BENCH_DAMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct damon_attrs {
	unsigned long sample_us, aggr_us, update_us;
	unsigned long min_regions, max_regions;
};

/* A monitoring target range (physical for paddr, virtual for vaddr) and a result region. */
struct damon_range {
	uint64_t start, end;
};

struct damon_region {
	uint64_t start, end;
	unsigned long nr_accesses, age;
};

/*
 * Start a kdamond with operations ops ("paddr" or "vaddr"; pid for vaddr) over ranges.
 * Fails with -EBUSY when a kdamond that is not ours runs: the sysfs interface cannot add
 * one then, and stopping someone else's monitor is not ours to do.
 */
int damon_start(const char *ops, pid_t pid, const struct damon_range *ranges, size_t nr,
		const struct damon_attrs *a, char *why, size_t n);

/*
 * The regions of the last completed aggregation interval, in address order (waits for
 * it). *v is malloc'ed; the caller frees it.
 */
int damon_snapshot(struct damon_region **v, size_t *nr, char *why, size_t n);

/* Stop our kdamond, remove it, and give DAMON_STAT back its state. */
void damon_stop(void);

#endif
