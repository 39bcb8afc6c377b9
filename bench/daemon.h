/* SPDX-License-Identifier: MIT */
/*
 * rwp-bench-daemon: what serving a guest through rwpd adds to serving it with librwp in
 * the guest's own process: the latency of the same fetches, and rwpd's memory per
 * attached guest. Shared declarations of its parts; latency samples come from lat.c
 * (tier.h), clocks and the key=value summary from util.c (bench.h).
 */
#ifndef RWP_BENCH_DAEMON_H
#define RWP_BENCH_DAEMON_H

#include "tier.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_STEPS_MAX 4
/* Part 1: the timed touches' stride, which keeps each out of its predecessor's prefetch */
#define FETCH_STRIDE(prefetch) (2 * (prefetch) + 1)

struct daemon_opts {
	const char *rwpd;	 /* the rwpd binary */
	bool quick;
	int cpu;		 /* everything runs here: the guest, librwp's threads, rwpd */
	/* part 1 */
	bool fetch;
	size_t mb;		 /* the guest's memory */
	unsigned int rounds;	 /* measured evict-then-touch rounds per side */
	/* part 2 */
	bool mem;
	size_t guest_mb;	 /* memory of each idle guest */
	unsigned int steps[MEM_STEPS_MAX]; /* guests attached at each step, ascending */
	unsigned int nr_steps;
	unsigned int interval_ms; /* rwpd's interval while they sit idle */
};

/* --------------------------------------------------------- daemon-fetch.c -- */

/* Who serves the guest's faults. */
enum fetch_side {
	SIDE_LIB,      /* librwp in this process, its state in memory-backed files */
	SIDE_LIB_DISK, /* the same with its state directory on the root fs, as rwpd keeps it */
	SIDE_RWPD,     /* rwpd, through rwp_client_attach() */
	SIDE_NR,
};

const char *fetch_side_name(enum fetch_side s);

struct fetch_result {
	bool ok;
	char why[192];
	struct lat lat;		/* touches of pages that were out, ns */
	size_t touches, faults;	/* timed touches; of those, pages that were out */
	uint64_t prefetched;	/* pages the fault thread brought in beside the faulting one */
	uint64_t handler_p50;	/* the fault thread's own view (message read to resolved), ns */
	uint64_t evict_ms;	/* median time to evict the region between rounds */
	bool intact;		/* every page read back bit-exact, every round and at the end */
};

/*
 * Run every side's rounds, interleaved, with this prefetch window (pages each way; 0:
 * off) on every side. False if a measurement failed (see res[].why).
 */
bool daemon_fetch_run(const struct daemon_opts *o, unsigned int prefetch,
		      struct fetch_result res[SIDE_NR]);
void daemon_fetch_free(struct fetch_result res[SIDE_NR]);

/* ----------------------------------------------------------- daemon-mem.c -- */

/* rwpd's memory from /proc/PID/smaps_rollup, in bytes. */
struct mem_point {
	unsigned int guests;
	uint64_t rss, pss, pss_anon, pss_file, pss_shmem;
	uint64_t status_rss;	/* what rwpd's STATUS says */
};

struct mem_result {
	bool ok;
	char why[192];
	struct mem_point pt[MEM_STEPS_MAX];
	unsigned int n;
	bool intact;		/* every guest page bit-exact after detach */
};

bool daemon_mem_run(const struct daemon_opts *o, struct mem_result *res);

/* A number after "key": in JSON text (the first one); false if none. */
bool json_u64(const char *json, const char *key, uint64_t *v);

#endif
