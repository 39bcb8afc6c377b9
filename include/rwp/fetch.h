/* SPDX-License-Identifier: MIT */
/*
 * rwp fetch: evicted pages come back when touched. The context's fault thread serves the
 * MISSING fault from the tier chain (UFFDIO_COPY), with spatial prefetch of evicted
 * neighbours, and can record the pages a guest faults in so that a later run fetches them
 * in bulk first (working-set replay, as REAP does for snapshot restores).
 *
 * A page that cannot be read back is retried; when the retries are spent it is poisoned
 * (UFFDIO_POISON): the accessing thread gets SIGBUS and a KVM guest a memory error. The
 * data stays in its tier and the failure is counted. rwp never returns wrong data.
 */
#ifndef RWP_FETCH_H
#define RWP_FETCH_H

#include <rwp/core.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rwp_fetch_opts {
	size_t sz;
	unsigned int prefetch;	  /* evicted neighbours fetched with a fault, each side (default 4) */
	bool no_prefetch;	  /* turn spatial prefetch off */
	unsigned int retries;	  /* reads of a failing tier before poisoning (default 8) */
	unsigned int timeout_ms;  /* ... or after this long (default 30000) */
};

int rwp_fetch_configure(struct rwp_ctx *ctx, const struct rwp_fetch_opts *opts);

/*
 * Lazy restore: every page of r starts out in the read-only image file fd at offset (a
 * snapshot's memory file) and is copied in when first touched. r must be registered
 * with RWP_REGION_LAZY (or _EVICTABLE). Faults on a LAZY region wait until its image is
 * attached, so its owner may already run; attach it to an _EVICTABLE region before any
 * page of it is touched.
 */
int rwp_region_set_image(struct rwp_region *r, int fd, off_t offset);

/*
 * Start recording, in fault order, the evicted pages faults bring back: from the image, a
 * tier, or known zero (not prefetched pages). Each is noted before its fault is resolved.
 */
int rwp_ws_record_start(struct rwp_ctx *ctx);

/* Stop recording and write the working set to path. Returns the pages recorded. */
int64_t rwp_ws_record_stop(struct rwp_ctx *ctx, const char *path);

/*
 * Fetch the working set recorded in path in bulk (contiguous runs read at once, installed
 * without waking, then one wake per run). Pages already resident are skipped.
 * Returns the pages fetched, or -errno (-EINVAL for a file that is not a working set of
 * this context's layout).
 */
int64_t rwp_ws_replay(struct rwp_ctx *ctx, const char *path);

#ifdef __cplusplus
}
#endif
#endif
