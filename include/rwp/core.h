/* SPDX-License-Identifier: MIT */
/*
 * rwp core: feature probe, contexts (one userfaultfd each) and guest memory regions.
 *
 * Every int-returning function returns >= 0 on success or -errno on failure and never
 * touches errno. The library never prints or exits; it reports through the context's log
 * callback and keeps the last error message (rwp_ctx_last_error()).
 */
#ifndef RWP_CORE_H
#define RWP_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct iovec; /* <sys/uio.h> */

#ifdef __cplusplus
extern "C" {
#endif

#define RWP_VERSION_MAJOR 0
#define RWP_VERSION_MINOR 1

/*
 * Option structs are versioned by size (libbpf style): declare them with RWP_OPTS so that
 * .sz is set and every field not named is zero, which is always the default.
 */
#define RWP_OPTS(type, name, ...)                                                          \
	struct type name = { .sz = sizeof(struct type), __VA_ARGS__ }

struct rwp_ctx;
struct rwp_region;

/* ---------------------------------------------------------------- feature probe -- */

/* What the running kernel offers, probed once per process and cached. */
struct rwp_features {
	bool uffd;		  /* userfaultfd usable by this process */
	bool dev_userfaultfd;	  /* opened through /dev/userfaultfd (no syscall permission) */
	uint64_t uffd_features;	  /* UFFDIO_API features reported with features=0 */
	uint64_t uffd_ioctls;	  /* UFFDIO_API ioctls */
	bool rwp;		  /* UFFD_FEATURE_RWP + RWP_ASYNC + UFFDIO_SET_MODE (Linux >= 7.3) */
	bool wp_async;		  /* UFFD_FEATURE_WP_ASYNC + WP_UNPOPULATED + WP_HUGETLBFS_SHMEM */
	bool minor_shmem;	  /* UFFD_FEATURE_MINOR_SHMEM */
	bool minor_hugetlbfs;	  /* UFFD_FEATURE_MINOR_HUGETLBFS */
	bool move;		  /* UFFD_FEATURE_MOVE */
	bool pagemap_scan;	  /* PAGEMAP_SCAN ioctl on /proc/pid/pagemap */
	bool remote_zap;	  /* process_madvise(MADV_DONTNEED) on another process */
	char kernel[65];	  /* uname -r */
	char why[160];		  /* if !uffd: why not */
};

/* Copy the cached probe result into *out (probing on the first call). */
int rwp_probe(struct rwp_features *out);

/* ------------------------------------------------------------------- contexts -- */

enum rwp_log_level { RWP_LOG_ERR = 0, RWP_LOG_WARN, RWP_LOG_INFO, RWP_LOG_DEBUG };
typedef void (*rwp_log_fn)(void *arg, enum rwp_log_level level, const char *msg);

/* Flags for rwp_ctx_opts.flags */
#define RWP_CTX_ADOPT_UFFD (1u << 0) /* use opts.uffd (UFFDIO_API already done by its creator) */
#define RWP_CTX_EVENT_FORK (1u << 1) /* negotiate EVENT_FORK: a child's copy is unregistered */
#define RWP_CTX_PIN_HANDLER (1u << 2) /* pin the fault thread to opts.handler_cpu */
#define RWP_CTX_KEEP_PIPE (1u << 3)   /* evict shmem through opts.pipe_fds (see below) */
/*
 * The guest discards private anonymous memory (MADV_DONTNEED, a balloon) that may be
 * evicted: negotiate EVENT_REMOVE so that discarded pages read back as zeros, not as
 * their evicted copy. Costs a round trip with the fault thread per MADV_DONTNEED.
 */
#define RWP_CTX_DISCARDS (1u << 4)

struct rwp_ctx_opts {
	size_t sz;
	unsigned int flags;
	pid_t pid;		  /* process whose memory is managed; 0 = this process */
	int uffd;		  /* with RWP_CTX_ADOPT_UFFD */
	uint64_t uffd_features;	  /* with RWP_CTX_ADOPT_UFFD: features its creator negotiated */
	int handler_cpu;	  /* with RWP_CTX_PIN_HANDLER */
	rwp_log_fn log;
	void *log_arg;
	enum rwp_log_level log_level; /* messages above this level are dropped (default ERR) */
	/*
	 * Where eviction state lives (page maps, compressed pages, the staging area), so that
	 * another process can take over after this one dies: rwp_ctx_recover() there finishes
	 * what was in flight. NULL: memory-backed files that die with the context.
	 */
	const char *state_dir;
	/*
	 * With RWP_CTX_KEEP_PIPE: the pipe shmem pages are spliced through. Whoever keeps a
	 * copy of it (the VMM, for rwpd) keeps pages in flight alive across a crash.
	 */
	int pipe_fds[2];
	/*
	 * For the memory of another process (pid != 0): drop its PTEs over [addr, addr+len),
	 * as madvise(MADV_DONTNEED) there would. The stock backends on shared memory need it
	 * where the kernel refuses process_madvise(MADV_DONTNEED) on another process (rwpd
	 * asks the VMM to do it). Returns 0 or -errno.
	 */
	int (*zap)(void *arg, uintptr_t addr, size_t len);
	void *zap_arg;
	/*
	 * Optional, beside zap: the ranges v[0..n) at once, in one round trip where zap would
	 * make one per range (a prefetch re-arms the runs on both sides of a fault). Returns 0
	 * or the first -errno.
	 */
	int (*zapv)(void *arg, const struct iovec *v, unsigned int n);
};

/*
 * Create a context over one userfaultfd and start its fault thread.
 * Errors: -ENOSYS (no userfaultfd), -EPERM (not allowed: vm.unprivileged_userfaultfd),
 * -EINVAL (bad options), -ESRCH (pid gone), -ENOMEM.
 */
int rwp_ctx_new(const struct rwp_ctx_opts *opts, struct rwp_ctx **out);

/* Unregister every region (restoring normal access), stop the fault thread, free. */
void rwp_ctx_free(struct rwp_ctx *ctx);

/*
 * Take over the state a dead owner left in opts.state_dir: call after attaching the same
 * tiers and registering the same regions (same order, sizes and memory). Finishes the
 * eviction batch that was in flight, settles pages caught mid-fetch, frees storage no page
 * refers to, and wakes every thread that was waiting on the old owner.
 * Returns the pages it settled, or -errno.
 */
int64_t rwp_ctx_recover(struct rwp_ctx *ctx);

/* Leave the state directory as it is on free (a successor will recover it). */
void rwp_ctx_abandon(struct rwp_ctx *ctx);

/* The uffd features this context negotiated. */
uint64_t rwp_ctx_uffd_features(const struct rwp_ctx *ctx);

/* The last error message logged on this context ("" if none); valid until the next call. */
const char *rwp_ctx_last_error(const struct rwp_ctx *ctx);

/* Features a VMM should negotiate on a uffd it creates for rwp (see rwp_uffd_create()). */
uint64_t rwp_uffd_wanted_features(const struct rwp_features *f);

/*
 * Create a userfaultfd in this process with the features rwp wants (O_CLOEXEC|O_NONBLOCK),
 * for a VMM that hands its memory to rwpd. *features receives what was negotiated.
 */
int rwp_uffd_create(int *uffd, uint64_t *features);

/* -------------------------------------------------------------------- regions -- */

enum rwp_mem {
	RWP_MEM_ANON = 1, /* private anonymous memory */
	RWP_MEM_SHMEM,	  /* MAP_SHARED mapping of a memfd or tmpfs file (fd required) */
	RWP_MEM_HUGETLB,  /* MAP_SHARED mapping of a hugetlbfs file or MFD_HUGETLB memfd */
};

enum rwp_backend {
	RWP_BACKEND_AUTO = 0,
	RWP_BACKEND_NATIVE,   /* MODE_RWP + RWP_ASYNC, PAGE_IS_ACCESSED scan (Linux >= 7.3) */
	RWP_BACKEND_WP_ASYNC, /* zap + WP-async registration + PRESENT/WRITTEN scan (>= 6.7) */
	RWP_BACKEND_MINOR,    /* zap + MINOR faults resolved with UFFDIO_CONTINUE (>= 5.14) */
	RWP_BACKEND_NONE,     /* no tracking (a lazy restore through a uffd that can do no more);
			       * never chosen automatically */
};

/* What a region's backend observes (rwp_region_info.sees) */
#define RWP_SEES_READS (1u << 0)  /* reads count as accesses */
#define RWP_SEES_WRITES (1u << 1) /* writes count as accesses */
#define RWP_SEES_DIRTY (1u << 2)  /* the written set is reported (rwp_region_dirty_bitmap) */
#define RWP_SEES_KERNEL (1u << 3) /* kernel accesses (KVM, O_DIRECT, vmsplice) count */

/* Flags for rwp_region_opts.flags */
#define RWP_REGION_EVICTABLE (1u << 0) /* register for eviction (MISSING faults) as well */
#define RWP_REGION_LAZY (1u << 1)      /* fetch only: restored from an image, never evicted */

struct rwp_region_opts {
	size_t sz;
	enum rwp_mem mem;	  /* required */
	void *addr;		  /* start, aligned to the page size of mem */
	size_t len;		  /* bytes, a multiple of that page size */
	int fd;			  /* backing file for SHMEM / HUGETLB, ignored for ANON */
	off_t offset;		  /* offset of addr in fd */
	enum rwp_backend backend; /* AUTO, or force one */
	unsigned int flags;
	const char *name;	  /* for reports; copied */
};

/*
 * Register guest memory with the context, choosing (or forcing) a tracking backend.
 * Errors: -EINVAL (unaligned, empty, mem missing, fd not matching the mapping),
 * -EEXIST (overlaps a registered region), -EOPNOTSUPP (memory or forced backend not
 * supported by this kernel; the reason is in rwp_ctx_last_error()), -ENOMEM, or what
 * UFFDIO_REGISTER returned.
 */
int rwp_region_register(struct rwp_ctx *ctx, const struct rwp_region_opts *opts,
			struct rwp_region **out);

/*
 * Fetch every evicted page back, unregister (restoring normal access) and free. If a page
 * cannot be fetched back the region stays registered and r valid: -EIO (or the tier's
 * error), with the reason in rwp_ctx_last_error().
 */
int rwp_region_unregister(struct rwp_region *r);

struct rwp_region_info {
	void *addr;
	size_t len;
	size_t page_size;
	size_t nr_pages;
	enum rwp_mem mem;
	enum rwp_backend backend;
	unsigned int sees;	  /* RWP_SEES_* */
	unsigned int flags;	  /* RWP_REGION_* */
	bool gone;		  /* unmapped or moved away by its owner: no longer tracked */
	char name[32];
	char reason[192];	  /* why this backend, and what it cannot see */
};

int rwp_region_info(const struct rwp_region *r, struct rwp_region_info *info);

/* Regions of a context in address order: fills up to n, returns how many exist. */
size_t rwp_ctx_regions(struct rwp_ctx *ctx, struct rwp_region **v, size_t n);

const char *rwp_backend_name(enum rwp_backend b);
const char *rwp_mem_name(enum rwp_mem m);

#ifdef __cplusplus
}
#endif
#endif
