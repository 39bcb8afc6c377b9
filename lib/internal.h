/* SPDX-License-Identifier: MIT */
/* librwp internals shared by the objects of the library. Not installed. */
#ifndef RWP_INTERNAL_H
#define RWP_INTERNAL_H

#include "compat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <rwp/rwp.h>

#define RWP_EXPORT __attribute__((visibility("default")))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE_4K 4096UL

struct rwp_region;
struct rwp_ctx;
struct uffd_msg;
struct rwp_runs;
struct rwp_capture_ops;

/*
 * A tracking backend. Every step works on one region; the context serialises steps on a
 * region under track_lock. Callbacks return 0 or -errno.
 */
struct rwp_backend_ops {
	enum rwp_backend id;
	const char *name;
	/* uffd features this backend needs negotiated */
	uint64_t features;
	/* UFFDIO_REGISTER mode (MISSING is added for evictable regions) */
	uint64_t register_mode;
	/* range ioctl the backend relies on (checked against UFFDIO_REGISTER's answer) */
	uint64_t needed_ioctl;
	/* RWP_SEES_* for a memory type */
	unsigned int (*sees)(enum rwp_mem mem);
	/* start the first interval after registration */
	int (*arm)(struct rwp_region *r);
	/*
	 * End the running interval, bring the ages up to date (rwp_ages_step() and
	 * rwp_ages_mark_hot(), or rwp_ages_fold_touched()), and start the next interval.
	 */
	int (*tick)(struct rwp_region *r);
	/* a fault this backend raised (MINOR, sync RWP) on page pg; resolve and wake */
	int (*fault)(struct rwp_region *r, const struct uffd_msg *msg, uint64_t pg);
	/* accesses are recorded by the fault thread (rwp_ages_touch), not by a scan */
	bool ages_from_faults;
};

extern const struct rwp_backend_ops rwp_backend_native;
extern const struct rwp_backend_ops rwp_backend_wp_async;
extern const struct rwp_backend_ops rwp_backend_minor;
extern const struct rwp_backend_ops rwp_backend_none;
/* native.c: the owner dropped [start, end) (REMOVE event): clear hugetlbfs RWP markers */
int rwp_native_removed(struct rwp_ctx *ctx, uintptr_t start, uintptr_t end);

/* Per-page tracking byte: bits 0-6 idle age, bit 7 written in the last interval. */
#define AGE_MASK 0x7f
#define AGE_WRITTEN 0x80

struct rwp_region {
	struct rwp_ctx *ctx;
	uintptr_t addr;
	size_t len;
	size_t page_size;
	unsigned int page_shift;
	uint64_t nr_pages;
	enum rwp_mem mem;
	int fd; /* dup of the backing file, -1 for anon */
	off_t offset;
	unsigned int flags;
	char name[32];

	const struct rwp_backend_ops *ops;
	unsigned int sees;
	char reason[192];
	uint64_t ioctls; /* range ioctls UFFDIO_REGISTER granted */
	bool armed;
	atomic_bool gone;

	_Atomic uint8_t *ages;		 /* nr_pages tracking bytes */
	uint64_t hist[RWP_AGE_MAX + 1];	 /* pages per age, exact after each tick */
	uint64_t hot_last;		 /* pages accessed in the last interval */

	/* eviction (RWP_REGION_EVICTABLE): where each page is, see tier/pagestate.h */
	_Atomic uint32_t *state;
	int index;			 /* position among the context's evictable regions */
	uint8_t *io_mem;		 /* our own untracked mapping of fd, for copying pages */
	struct rwp_tier *image;		 /* lazy-restore source, or NULL */
	_Atomic bool image_ready;	 /* every untouched page now names the image */
	const struct rwp_capture_ops *capture;
	_Atomic uint64_t nonresident;	 /* pages in a tier or zero */
};

/* Counters the fault thread and the evictor bump; read by rwp_stats(). */
struct rwp_counters {
	_Atomic uint64_t faults_missing, faults_minor, faults_rwp, faults_held;
	_Atomic uint64_t fetched, fetched_zero, prefetched, prefetch_hits, prefetch_waste;
	_Atomic uint64_t evicted_total, evict_failures, fetch_errors, poisoned;
};

struct rwp_latency_hist;
struct rwp_evictor;
struct rwp_recorder;


struct rwp_ctx {
	int uffd;
	bool own_uffd;
	uint64_t features;
	pid_t pid;
	bool self;
	int pidfd;
	int pagemap_fd;

	/* regions, sorted by address; readers are the fault thread and queries */
	pthread_rwlock_t regions_lock;
	struct rwp_region **regions;
	size_t nr_regions, cap_regions;
	int next_index;			/* registration order, for working-set files */

	/* tracking steps (start, tick) run one at a time */
	pthread_mutex_t track_lock;
	bool tracking;
	_Atomic uint64_t intervals;
	struct rwp_runs *runs;		/* scan output, reused by every tick */
	struct rwp_track_timing timing;	/* summed over ticks */

	/* fault thread */
	pthread_t thread;
	bool thread_started;
	int epfd;
	int stop_efd;
	bool pin;
	int cpu;

	/* storage tiers, fastest first */
	struct rwp_tier *tiers[RWP_TIERS_MAX];
	unsigned int nr_tiers;
	struct rwp_evictor *evictor;	/* buffers of the eviction pass, under track_lock */
	unsigned int min_idle_adapt;	/* extra idle intervals the refault budget asks for */
	int kick_efd;			/* wakes the fault thread to retry held faults */

	/* fetch */
	struct rwp_fetch_opts fetch;
	struct rwp_recorder *_Atomic recorder;
	struct rwp_counters cnt;
	struct rwp_latency_hist *latency;
	_Atomic uint64_t refaults_ring[60];	/* fetches per second, last minute */
	_Atomic uint64_t refaults_sec;

	/* durable state, see rwp_ctx_opts.state_dir */
	int state_dirfd;
	bool abandon;		/* free without deleting the state: a successor recovers it */
	/*
	 * A region adopted a predecessor's page map: faults on evictable regions are held
	 * until rwp_ctx_recover() has settled what it left half done.
	 */
	atomic_bool recovering;
	int pipe_fds[2];	/* kept by someone else when RWP_CTX_KEEP_PIPE */
	bool keep_pipe;
	int (*zap)(void *arg, uintptr_t addr, size_t len); /* remote PTE zaps, or NULL */
	void *zap_arg;
	int (*zapv)(void *arg, const struct iovec *v, unsigned int n);

	/* logging */
	rwp_log_fn log;
	void *log_arg;
	enum rwp_log_level log_level;
	pthread_mutex_t log_lock;
	char last_error[256];
};

/* log.c */
void rwp_log(struct rwp_ctx *ctx, enum rwp_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* log an error and return -err (err > 0) */
int rwp_err(struct rwp_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* probe.c */
const struct rwp_features *rwp_features_get(void);
int rwp_uffd_open(bool *via_dev);

/* uffd.c: thin ioctl wrappers returning -errno; retry EAGAIN where the kernel asks to */
int rwp_uffd_api(int uffd, uint64_t features, uint64_t *got_features, uint64_t *ioctls);
int rwp_uffd_register(int uffd, uintptr_t addr, size_t len, uint64_t mode, uint64_t *ioctls);
int rwp_uffd_unregister(int uffd, uintptr_t addr, size_t len);
int rwp_uffd_wake(int uffd, uintptr_t addr, size_t len);
int rwp_uffd_rwprotect(int uffd, uintptr_t addr, size_t len, uint64_t mode);
int rwp_uffd_writeprotect(int uffd, uintptr_t addr, size_t len, uint64_t mode);
int rwp_uffd_continue(int uffd, uintptr_t addr, size_t len);
int rwp_uffd_zeropage(int uffd, uintptr_t addr, size_t len);
int rwp_uffd_copy(int uffd, uintptr_t dst, const void *src, size_t len, uint64_t mode);
int rwp_uffd_set_mode(int uffd, uint64_t enable, uint64_t disable);
int rwp_uffd_move(int uffd, uintptr_t dst, uintptr_t src, size_t len);
int rwp_uffd_poison(int uffd, uintptr_t addr, size_t len);

/* state.c: eviction state files (state_dir, or memfds) */
int rwp_state_open(struct rwp_ctx *ctx, const char *name, int *fd);
void rwp_state_remove(struct rwp_ctx *ctx, const char *name);
int rwp_state_dir_open(struct rwp_ctx *ctx, const char *dir);

/* mm.c: operations on the managed process's address space */
int rwp_zap(struct rwp_ctx *ctx, uintptr_t addr, size_t len);
/* Several ranges at once: one call where the owner's process or hook allows it. */
int rwp_zapv(struct rwp_ctx *ctx, const struct iovec *v, unsigned int n);

/* pagemap.c: a PAGEMAP_SCAN request over [start, end) */
struct rwp_scan_req {
	uintptr_t start, end;
	uint64_t flags;
	uint64_t category_mask, category_anyof_mask, category_inverted, return_mask;
};

/* ages.c */
int rwp_ages_init(struct rwp_region *r);
void rwp_ages_free(struct rwp_region *r);
void rwp_ages_step(struct rwp_region *r);	  /* every page one interval older */
/* pages [first, first + n) were accessed in this interval (written if `written`) */
void rwp_ages_mark_hot(struct rwp_region *r, uint64_t first, uint64_t n, bool written);
/* from the fault thread, without histogram upkeep (ages_from_faults backends) */
void rwp_ages_touch(struct rwp_region *r, uint64_t pg, bool written);
/* end an interval recorded with rwp_ages_touch() */
void rwp_ages_fold_touched(struct rwp_region *r);
/* pages of age < window; track_lock held */
uint64_t rwp_ages_wss(const struct rwp_region *r, unsigned int window);

/* interval.c: the tick of a scanning backend, in timed phases */
int rwp_track_scan_tick(struct rwp_region *r, const struct rwp_scan_req *req, size_t merge_gap,
			int (*rearm)(struct rwp_region *r, uintptr_t start, uintptr_t end));
/* pages accessed since the last tick, as a bitmap (for the evictor) */
int rwp_track_touched(struct rwp_region *r, uint64_t *bits);
/* time spent in each phase of a tick by a backend that does not scan */
void rwp_track_account(struct rwp_region *r, uint64_t bookkeeping_ns, uint64_t protect_ns);

/* ctx.c / region.c */
struct rwp_region *rwp_region_find_locked(struct rwp_ctx *ctx, uintptr_t addr);
/* unregister whatever it holds: evicted pages left are poisoned, never zero-filled */
void rwp_region_release(struct rwp_region *r);
void rwp_region_mark_gone(struct rwp_ctx *ctx, uintptr_t start, uintptr_t end,
			  const char *why);
void rwp_region_moved(struct rwp_ctx *ctx, uintptr_t from, uintptr_t to, size_t len);

/* fault-thread.c: the fault thread */
int rwp_fault_thread_start(struct rwp_ctx *ctx);
void rwp_fault_thread_stop(struct rwp_ctx *ctx);
/* pages left BUSY: let the fault thread retry the faults it holds */
void rwp_fault_thread_kick(struct rwp_ctx *ctx);

/* tier.c */
void rwp_tiers_free(struct rwp_ctx *ctx);

static inline uint64_t rwp_page_of(const struct rwp_region *r, uintptr_t addr)
{
	return (addr - r->addr) >> r->page_shift;
}

static inline uintptr_t rwp_addr_of(const struct rwp_region *r, uint64_t pg)
{
	return r->addr + (pg << r->page_shift);
}

#endif
