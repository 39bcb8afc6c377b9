/* SPDX-License-Identifier: MIT */
/*
 * rwp client: a VMM hands its guest memory to rwpd.
 *
 * rwp_client_attach() creates the userfaultfd with the features rwp needs, sends it with
 * the guest's memory fds to rwpd (rwp-protocol(7)), and keeps a thread that
 *  - drops the guest's PTEs when rwpd asks (stock kernels refuse that to another process),
 *  - notices when rwpd dies, and RESUMEs with a restarted rwpd (its state is on disk), or,
 *    if none comes back within takeover_ms, takes over itself: it recovers rwpd's state
 *    in this process, brings every evicted page home, and lets the memory go.
 * A guest thread that touches an evicted page while rwpd is down waits at most about
 * takeover_ms plus the time to recover; no page is lost.
 *
 * Guest memory must be MAP_SHARED memfd or hugetlbfs memory for eviction (private anon
 * memory can be tracked natively but not evicted from another process), and should be
 * MADV_DONTFORK (a forked child would see evicted pages as holes).
 */
#ifndef RWP_CLIENT_H
#define RWP_CLIENT_H

#include <rwp/core.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RWP_CLIENT_SOCKET "/run/rwpd/rwpd.sock"

struct rwp_client;

struct rwp_client_region {
	void *addr;
	size_t len;
	enum rwp_mem mem;
	int fd;		  /* memfd / hugetlbfs file for SHMEM / HUGETLB */
	off_t offset;	  /* of addr in fd */
	uint64_t gpa;	  /* guest physical address, for reports */
};

#define RWP_CLIENT_EVICTABLE (1u << 0) /* evict, not only track */

struct rwp_client_opts {
	size_t sz;
	const char *socket;	/* default RWP_CLIENT_SOCKET */
	const char *name;	/* the guest's name in rwpd (and for its [guest NAME] policy) */
	const struct rwp_client_region *regions;
	unsigned int nr_regions;
	unsigned int flags;	/* RWP_CLIENT_* */
	unsigned int takeover_ms; /* default 2000 */
	rwp_log_fn log;
	void *log_arg;
};

/*
 * Attach. Errors: -ECONNREFUSED/-ENOENT (rwpd not running), -EACCES, -EINVAL (options),
 * or the error rwpd replied with (its reason goes to the log callback).
 */
int rwp_client_attach(const struct rwp_client_opts *opts, struct rwp_client **out);

/* rwpd's id for the guest. */
uint64_t rwp_client_guest_id(const struct rwp_client *c);

/* Did this process take the guest's memory back from a dead rwpd? */
bool rwp_client_took_over(const struct rwp_client *c);

/*
 * Detach: rwpd (or, after a take-over, this process) brings every evicted page home and
 * unregisters the memory. Frees c either way.
 */
int rwp_client_detach(struct rwp_client *c);

#ifdef __cplusplus
}
#endif
#endif
