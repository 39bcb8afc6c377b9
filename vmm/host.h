/* SPDX-License-Identifier: MIT */
/*
 * The host side of a phases guest, shared by rwp-vm (a KVM vCPU runs vmm/guest/phases.S)
 * and rwp-demo-threads (threads run the same sweeps in C): guest memory and its layout,
 * the phase schedule, librwp attached in-process, the interval loop, the report and JSON.
 *
 *   opts.c     command line          ram.c      memfd guest memory, final check
 *   content.c  page contents         phase.c    the phases and when each runs
 *   attach.c   librwp context        monitor.c  ticks, evictions, samples
 *   progress.c the live line         report.c   the printed report
 *   json.c     the JSON file         run.c      the whole run, start to verdict
 *
 * Guest physical layout (identical for both guests):
 *   0x1000 code   0x2000 command block (guest/phases.h)   0x10000 generation table
 *   data_gpa (1 MiB aligned) .. end: data pages, the only part registered with librwp
 */
#ifndef RWP_VMM_HOST_H
#define RWP_VMM_HOST_H

#include "vmm/guest/phases.h"

#include <pthread.h>
#include <rwp/rwp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VMM_PAGE 4096UL
#define VMM_CODE_GPA 0x1000UL
#define VMM_CMD_GPA 0x2000UL
#define VMM_TABLE_GPA 0x10000UL
#define VMM_DATA_ALIGN (1UL << 20)
#define VMM_MEM_MIN (8ULL << 20)
#define VMM_MEM_MAX (3072ULL << 20) /* 32-bit guest physical, below KVM's TSS */
#define VMM_HEAT_BUCKETS 512

/* Exit statuses of rwp-vm and rwp-demo-threads */
#define VMM_EXIT_GOOD 0	   /* ran, every page verified */
#define VMM_EXIT_CORRUPT 1 /* a page was lost or wrong */
#define VMM_EXIT_ERROR 2   /* bad usage, or set-up or run failed */
#define VMM_EXIT_NO_KVM 3  /* /dev/kvm is missing or unusable */

/* ------------------------------------------------------------------ opts.c -- */

struct vmm_opts {
	const char *prog;
	uint64_t mem_bytes;	 /* --mem-mb */
	double seconds;		 /* --seconds */
	unsigned int interval_ms;
	unsigned int min_idle;
	enum rwp_backend backend;
	const char *file_tier;	 /* --file-tier PATH or NULL */
	unsigned int demote_age; /* --demote-age: zram -> file after this many intervals */
	uint64_t zram_bytes;	 /* --zram-mb: 0 = unlimited */
	const char *json;	 /* --json FILE or NULL */
	bool quiet, progress;
	int cpu;		 /* --cpu: guest and fault thread share it; -1 = no pinning */
	unsigned int threads;	 /* rwp-demo-threads: guest threads */
};

/*
 * Parse argv into *o. threads_opt: accept --threads (the thread guest). Returns 0, 1 when
 * --help was printed, or -EINVAL after printing what is wrong.
 */
int vmm_opts_parse(struct vmm_opts *o, int argc, char **argv, bool threads_opt);

/* ------------------------------------------------------------------- ram.c -- */

struct vmm_ram {
	int fd;
	uint8_t *base;	     /* the guest's mapping: guest physical 0 is base[0] */
	const uint8_t *view; /* a second mapping of the memfd, never registered with librwp */
	uint64_t bytes;
	uint64_t data_gpa;   /* first data page */
	uint64_t data_pages;
};

struct vmm_check {
	uint64_t pages, bad, bad_stamp, bad_gen, bad_body;
};

int vmm_ram_create(struct vmm_ram *ram, uint64_t bytes);
void vmm_ram_destroy(struct vmm_ram *ram);

/* Fill the body of every data page; the guest writes the stamps. Before registering. */
void vmm_ram_fill(struct vmm_ram *ram);

/* The generation table entry of data page i. */
static inline uint32_t *vmm_ram_gen(const struct vmm_ram *ram, uint64_t i)
{
	return (uint32_t *)(ram->base + VMM_TABLE_GPA) + i;
}

/*
 * Check every data page through the view: stamp, generation and body. Only once no page
 * is evicted (reading a hole through the view would fill it). Up to `show` bad pages are
 * described on f.
 */
void vmm_ram_check(const struct vmm_ram *ram, struct vmm_check *c, FILE *f, unsigned int show);

/* --------------------------------------------------------------- content.c -- */

/* The body (bytes 8..4095) of the data page at gpa: text-like, a quarter all zero. */
void vmm_content_fill(uint8_t *page, uint64_t gpa);
bool vmm_content_check(const uint8_t *page, uint64_t gpa);

/* ----------------------------------------------------------------- phase.c -- */

struct vmm_phase {
	const char *name;
	unsigned int first_pm; /* start, per mille of the data pages */
	unsigned int span_pm;  /* extent, per mille */
	unsigned int step;     /* every step-th page of the span */
	unsigned int write_every;
	bool stamp;
};

extern const struct vmm_phase vmm_phases[];
extern const unsigned int vmm_nr_phases;

struct vmm_sched {
	const struct vmm_ram *ram;
	double seconds, min_phase; /* whole run; shortest phase after the stamp */
	double t0;		   /* run start, CLOCK_MONOTONIC seconds */
	pthread_mutex_t lock;
	double stamped_at;	   /* seconds since t0 the first stamp sweep ended; < 0 before */
	double phase_len;
	atomic_int cur;		   /* phase shown in samples: the newest any sweep runs */
	atomic_bool stop;
};

/* One sweeping thread's place in the schedule; part of parts splits each sweep. */
struct vmm_sched_cursor {
	unsigned int part, parts;
	uint64_t sweeps;
};

void vmm_sched_init(struct vmm_sched *s, const struct vmm_ram *ram, double seconds,
		    double min_phase);
void vmm_sched_destroy(struct vmm_sched *s);
/* The command of the caller's next sweep (the first one stamps) into *cmd. */
void vmm_sched_next(struct vmm_sched *s, struct vmm_sched_cursor *c, struct phases_cmd *cmd);
/* Has the last phase run its time? */
bool vmm_sched_over(struct vmm_sched *s, double now);
/* Where phase p runs: start and end, seconds since t0 (end < 0: not known). Only once
 * the guest has stopped. */
void vmm_sched_span(const struct vmm_sched *s, unsigned int p, double *start, double *end);
/* Phase p's data pages: it spans [*first, *first + *span) and touches *count of them. */
void vmm_phase_pages(const struct vmm_ram *ram, unsigned int p, uint64_t *first,
		     uint64_t *span, uint64_t *count);

double vmm_now(void);

/* ---------------------------------------------------------------- attach.c -- */

struct vmm_rwp {
	struct rwp_ctx *ctx;
	struct rwp_region *region;
	struct rwp_region_info info;
	unsigned int nr_tiers;
	char tiers[RWP_TIERS_MAX][24];
};

/* Context, the data pages as one evictable shmem region, the tier chain. */
int vmm_rwp_attach(struct vmm_rwp *w, const struct vmm_ram *ram, const struct vmm_opts *o,
		   char *err, size_t errlen);
void vmm_rwp_detach(struct vmm_rwp *w);

/* --------------------------------------------------------------- monitor.c -- */

/* What the guest did, counted by the thread(s) that run it. */
struct vmm_guest_stat {
	atomic_uint_fast64_t sweeps, pages, bad;
	atomic_bool ended;	/* halted or failed: no more sweeps */
	char failure[256];	/* why it ended early, "" if it did not */
};

struct vmm_sample {
	double t;		/* seconds since the run started */
	int phase;
	int64_t hot;		/* pages accessed in the interval */
	int64_t wss1, wss4;	/* pages accessed in the last 1 and 4 intervals */
	struct rwp_evict_result evict;
	struct rwp_stats st;	/* after the eviction */
	uint64_t guest_pages;	/* pages the guest has touched so far */
};

struct vmm_series {
	struct vmm_sample *v;
	uint32_t *heat;		/* n rows of buckets: hot pages per address bucket */
	size_t n, cap, buckets;
};

/* Register a report of a bad page (from the guest) and describe the first few. */
void vmm_guest_bad(struct vmm_guest_stat *g, const struct vmm_ram *ram, uint32_t kind,
		   uint32_t gpa, uint32_t found);

/* -------------------------------------------------------------------- run.c -- */

struct vmm_env;

/* A guest: rwp-vm's vCPU or the demo's threads. */
struct vmm_guest_ops {
	const char *kind;	/* "kvm" or "threads", for the report and JSON */
	const char *what;	/* e.g. "1 vCPU", "2 threads" */
	/* start sweeping (phase 0 first); the memory is filled and tracked */
	int (*start)(void *guest, struct vmm_env *env, char *err, size_t errlen);
	/* the schedule says stop: wait until the guest has (it may have failed already) */
	void (*stop)(void *guest, struct vmm_env *env);
};

struct vmm_result {
	struct rwp_stats last;	/* at the end of the last interval, before the drain */
	struct rwp_stats drained_st;
	struct rwp_track_timing timing;
	int64_t drained;	/* pages fetched back by rwp_drain() */
	struct vmm_check check;
	uint64_t guest_bad, guest_sweeps, guest_pages;
	double stamp_s, run_s, check_s;
	bool interrupted;
	bool good;
};

struct vmm_env {
	const struct vmm_opts *opts;
	const struct vmm_guest_ops *ops;
	struct vmm_ram ram;
	struct vmm_sched sched;
	struct vmm_guest_stat gstat;
	struct vmm_rwp rwp;
	struct vmm_series series;
	struct vmm_result res;
};

/* Set by SIGINT or SIGTERM: the run ends early, but is still checked and reported. */
extern volatile sig_atomic_t vmm_interrupted;

/* The whole run with this guest; returns the exit status (VMM_EXIT_*). */
int vmm_run(const struct vmm_opts *o, const struct vmm_guest_ops *ops, void *guest);

/* monitor.c: ticks and evictions until the schedule ends, the guest ends or SIGINT. */
int vmm_monitor_run(struct vmm_env *env, char *err, size_t errlen);
void vmm_series_free(struct vmm_series *s);

/* progress.c: the live line after sample i (carriage return, no newline). */
void vmm_progress_print(FILE *f, const struct vmm_env *env, size_t i);
void vmm_progress_end(FILE *f);

/* report.c; vmm_fmt_ns() writes "850 ns", "12.3 us" or "4.56 ms" into buf */
void vmm_report_print(FILE *f, const struct vmm_env *env);
const char *vmm_fmt_ns(char *buf, size_t len, uint64_t ns);

/* json.c */
int vmm_json_write(const struct vmm_env *env, const char *path, char *err, size_t errlen);

#endif
