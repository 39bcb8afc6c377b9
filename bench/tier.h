/* SPDX-License-Identifier: MIT */
/*
 * rwp-bench-tier and rwp-bench-daemon: what fetching, replaying and evicting cost, each
 * next to the kernel (or device) floor of the same work measured in the same run. Shared
 * declarations of their parts; the clocks, pinning and key=value summary come from
 * bench.h (util.c), page sets from hotset.c.
 */
#ifndef RWP_BENCH_TIER_H
#define RWP_BENCH_TIER_H

#include "bench.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE 4096UL

/* ------------------------------------------------------------------ tier.c -- */

struct tier_opts {
	size_t mb;	    /* region size */
	bool quick;
	unsigned int reps;  /* eviction repetitions */
	unsigned int replay_passes; /* replay: cheaper, so more of them steady the medians */
	int cpu_a, cpu_b;   /* the toucher's CPU, and the other one */
	const char *file_dir; /* file tier and device floor: a directory on the root fs */
	char file_path[4096]; /* the file tier's file in it (named, so that it can be synced) */
	bool fetch, replay, evict;
	bool hugetlb;	    /* also the hugetlbfs rows of the fetch part */
};

/* ------------------------------------------------------------------ lat.c -- */

/* Latency samples in ns, with percentiles over them. */
struct lat {
	uint64_t *v;
	size_t n, cap;
	bool sorted;
};

int lat_add(struct lat *l, uint64_t ns);
/* The q-quantile (0 < q <= 1) by nearest rank; 0 without samples. */
uint64_t lat_pct(struct lat *l, double q);
double lat_mean(const struct lat *l);
void lat_free(struct lat *l);
/* Is the page at p in memory (mincore: for shared memory, in the page cache)? */
bool page_in_core(const void *p, size_t page_size);

/* ---------------------------------------------------------------- content.c -- */

/*
 * Page contents, deterministic per (kind, page): text (English-like prose and C-like
 * lines), heap (pointers, small integers, zero words, as a process heap holds), mixed (a
 * guest-like blend of the others), random, zero.
 */
enum content { C_TEXT, C_HEAP, C_MIXED, C_RANDOM, C_ZERO, C_NR };

const char *content_name(enum content c);
/* Load the text corpus once; says where text comes from. */
const char *content_init(void);
/* Fill one 4 KiB page with the content of page pg. */
void content_page(enum content c, uint64_t pg, void *page);
/* Fill len bytes (a multiple of 4 KiB) at p, page i of it being page first + i. */
void content_fill(enum content c, uint64_t first, void *p, size_t len);

/* -------------------------------------------------------------- tier-raw.c -- */

/*
 * The floor of a fetch: a region registered MISSING with a userfaultfd of our own, and a
 * minimal handler thread (poll, read, UFFDIO_COPY of a page from a buffer in memory) on
 * a chosen CPU.
 */
struct rawmiss {
	const struct guestmem *g;
	int uffd, efd, cpu;
	uint8_t *src;	  /* one page (of the region's page size), hot in cache */
	_Atomic int err;  /* first failed COPY, as errno */
	pthread_t thread;
	bool running;
};

/* Register all of g MISSING and start the handler on cpu. */
int rawmiss_open(struct rawmiss *x, const struct guestmem *g, int cpu);
void rawmiss_close(struct rawmiss *x);

/* Punch pages [first, first + n) of a shmem / hugetlbfs guestmem out of its file. */
int punch_pages(const struct guestmem *g, uint64_t first, uint64_t n);

/* A userfaultfd with the MISSING features for g's memory, all of g registered MISSING. */
int raw_missing_uffd(const struct guestmem *g, int *uffd);

/* ------------------------------------------------------------ tier-fetch.c -- */

/* One row of part a: librwp's fetch next to the raw round trip of the same pinning. */
struct fetch_row {
	char backend[16], mem[12], tier[16];
	bool same_cpu, prefetch;
	bool ok;
	char why[160];
	size_t touches, faults;	  /* faults: the page was still out when touched */
	uint64_t p50, p90, p99;	  /* of the faulting touches, ns */
	double mean_touch;	  /* ns per touched page, faults and prefetched hits alike */
	uint64_t raw_p50, raw_p99;
	double raw_mean;
	struct rwp_latency lib;	  /* rwp_stats().fault_latency */
	uint64_t prefetched;
	bool intact;		  /* every touched page read back bit-exact */
};

/* Run every part-a row the kernel allows; returns rows written into v (at most n). */
size_t tier_fetch_run(const struct tier_opts *o, struct fetch_row *v, size_t n, bool *failed);

/* ----------------------------------------------------------- tier-replay.c -- */

/* One row of part b: a working set restored in bulk from one source, next to its floors. */
struct replay_row {
	char mem[12], src[16];	  /* src: "image" (lazy restore) or a tier */
	bool ok;
	char why[160];
	size_t pages, runs;	  /* the working set */
	double record_s;	  /* recording: the faults that found the set */
	double lib_gbs;		  /* rwp_ws_replay, median of reps */
	double floor_gbs;	  /* bulk UFFDIO_COPY from memory, one ioctl per run */
	double src_gbs;		  /* the same runs read from the source, then one COPY per run */
	uint64_t late_faults;	  /* faults when the set is touched after a replay */
	bool intact;
};

size_t tier_replay_run(const struct tier_opts *o, struct replay_row *v, size_t n, bool *failed);

/* ------------------------------------------------------------ tier-evict.c -- */

/* One row of part c: a whole cold region evicted by rwp_evict to one tier. */
struct evict_row {
	char tier[16];
	enum content content;
	bool ok;
	char why[160];
	uint64_t pages, evicted, zero;
	double lib_gbs;		/* guest GB evicted per second, file rows with the sync */
	double ratio;		/* guest bytes stored / tier bytes used */
	double sync_s;		/* file rows: the fsync after the pass, included above */
	/* floors, ns per page: splice + punch + read; zero check + codec (zram rows) */
	double capture_ns_pp, compress_ns_pp;
	double dev_gbs;		/* file rows: the bytes the tier wrote, written plainly */
	bool intact;
};

size_t tier_evict_run(const struct tier_opts *o, struct evict_row *v, size_t n, bool *failed);

/* ------------------------------------------------------ tier-evict-floor.c -- */

/*
 * Capture the len bytes of memfd fd as librwp does (punching them), and for a zram tier
 * compress them too; the ns of each step.
 */
int floor_capture(int fd, size_t len, const char *tier, uint64_t *cap_ns, uint64_t *comp_ns);
/* fsync(fd): the ns it took, or -errno. */
int64_t fsync_ns(int fd);
/* Write bytes of src to a new file in dir, then fsync_ns(): the ns from first write on. */
int floor_device(const char *dir, const uint8_t *src, uint64_t bytes, uint64_t *ns);

/* -------------------------------------------------------- tier-common.c -- */

/* A tier by name: zram-lz4, zram-zstd, or file (a new o->file_path). */
int tier_make(const struct tier_opts *o, const char *kind, struct rwp_tier **t);
/* Map mb MiB of mem filled with content c; *why as guestmem_map. */
int map_filled(struct guestmem *g, enum rwp_mem mem, size_t mb, enum content c,
	       const char **why);
/* Call fn on each run of consecutive pages of h; stops at the first non-zero return. */
int each_run(const struct hotset *h, int (*fn)(void *arg, uint64_t first, uint64_t n),
	     void *arg);
size_t count_runs(const struct hotset *h);
/* rwp_evict_range over each run of h; -EAGAIN if a page stayed resident. */
int evict_set(struct rwp_region *r, const struct hotset *h);
/* Do the pages of h (all of g if h is NULL) read back as content c? */
bool content_intact(enum content c, const struct guestmem *g, const struct hotset *h);
/* Prefix why (the library's message, or "") with the failed step and -err. */
void why_step(char *why, size_t n, const char *step, int err);
/* Read one word of each page of h in address order; returns the ns it took. */
uint64_t touch_read(const struct guestmem *g, const struct hotset *h);

#endif
