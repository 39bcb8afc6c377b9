/* SPDX-License-Identifier: MIT */
/*
 * rwp storage tiers: where evicted pages live. A context has one chain of up to
 * RWP_TIERS_MAX tiers, fastest first (compressed RAM -> local file -> remote NBD); a page
 * goes to the first tier that takes it and is demoted down the chain as it ages.
 * A page is always in exactly one place: resident, a zero page (no storage), or one slot
 * of one tier.
 */
#ifndef RWP_TIER_H
#define RWP_TIER_H

#include <rwp/core.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RWP_TIERS_MAX 4

struct rwp_tier;

enum rwp_codec { RWP_CODEC_LZ4 = 0, RWP_CODEC_ZSTD };

/* Compressed RAM. */
struct rwp_tier_zram_opts {
	size_t sz;
	enum rwp_codec codec;
	int level;		/* zstd level (default 1), lz4 acceleration (default 1) */
	uint64_t max_bytes;	/* compressed bytes it may hold; 0 = unlimited */
	/* a page that compresses worse than this fraction of its size (default 0.75) is
	 * passed down the chain, or stored raw by the last tier */
	double max_ratio;
};
int rwp_tier_zram_new(const struct rwp_tier_zram_opts *opts, struct rwp_tier **out);

/* A local file or block device. */
struct rwp_tier_file_opts {
	size_t sz;
	const char *path;	/* created if missing; a directory gets an unnamed O_TMPFILE */
	uint64_t max_bytes;	/* 0 = unlimited (a block device: its size) */
	bool direct;		/* O_DIRECT (pages are written from page-aligned buffers) */
};
/* Errors: -EBUSY (another tier holds the file: each file serves one tier), or open's. */
int rwp_tier_file_new(const struct rwp_tier_file_opts *opts, struct rwp_tier **out);

/* A remote NBD export (libnbd), reconnected after failures. */
struct rwp_tier_nbd_opts {
	size_t sz;
	const char *uri;	/* nbd://host:port/export or nbd+unix:///export?socket=path */
	unsigned int retries;	/* per request before giving up (default 3) */
};
int rwp_tier_nbd_new(const struct rwp_tier_nbd_opts *opts, struct rwp_tier **out);

/* Free a tier that was never attached (attached tiers belong to their context). */
void rwp_tier_free(struct rwp_tier *t);

/*
 * Attach a tier at the end of the context's chain; the context owns it from now on.
 * demote_age: pages idle this many intervals move on to the next tier (0 = never).
 * Errors: -ENOSPC (chain full), -EINVAL.
 */
int rwp_tier_attach(struct rwp_ctx *ctx, struct rwp_tier *t, unsigned int demote_age);

/* Unstable, for tests: the next `count` stores (or loads) of t fail with -err. */
void __rwp_tier_inject(struct rwp_tier *t, bool on_load, int err, unsigned int count);

const char *rwp_tier_name(const struct rwp_tier *t);

/*
 * A tier from a one-line spec, as rwpd's configuration and tools take them:
 *   zram-lz4 | zram-zstd | file:PATH | nbd:URI, then options ",max=SIZE" (K/M/G/T) and
 *   ",demote=AGE". *demote_age gets AGE (0 when not given).
 * Errors: -EINVAL (with no output), or the tier's own.
 */
int rwp_tier_from_spec(const char *spec, struct rwp_tier **out, unsigned int *demote_age);

#ifdef __cplusplus
}
#endif
#endif
