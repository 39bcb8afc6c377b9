/* SPDX-License-Identifier: MIT */
/*
 * rwpd's configuration file (see rwpd.conf.example): lines of `key = value`, comments
 * from a '#' at the start of a line or after a blank, and `[guest NAME]` sections that
 * override the policy for one guest. Parsing is strict: an unknown key, a value out of
 * range, a key given twice in one section are errors naming the line.
 */
#ifndef RWPD_CONFIG_H
#define RWPD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <rwp/core.h>
#include <rwp/tier.h>

#include "../lib/proto/wire.h"

#define RWPD_CONF_PATH_MAX 1024
#define RWPD_CONF_SOCK_MAX 108	  /* sizeof(sun_path) */
#define RWPD_CONF_MAX_FC 32
#define RWPD_CONF_MAX_GUESTS 64
#define RWPD_CONF_LINE_MAX 4096
#define RWPD_PREFETCH_MAX 8	  /* librwp's limit (struct rwp_fetch_opts) */
#define RWPD_CONF_FILE_MAX (1 << 20)

enum rwpd_tier_kind {
	RWPD_TIER_ZRAM_LZ4 = 1, /* "zram-lz4" */
	RWPD_TIER_ZRAM_ZSTD,	/* "zram-zstd" */
	RWPD_TIER_FILE,		/* "file:PATH" */
	RWPD_TIER_NBD,		/* "nbd:URI" */
};

struct rwpd_tier_conf {
	enum rwpd_tier_kind kind;
	char target[RWPD_CONF_PATH_MAX]; /* FILE: the path, NBD: the URI, else "" */
	uint64_t max_bytes;		 /* ",max=SIZE"; 0: unlimited */
	unsigned int demote_age;	 /* ",demote=AGE" in intervals; 0: never */
	unsigned int line;
};

/* Which policy fields a section gave (struct rwpd_policy_conf.set) */
#define RWPD_CONF_INTERVAL (1u << 0)
#define RWPD_CONF_MIN_IDLE (1u << 1)
#define RWPD_CONF_TARGET (1u << 2)
#define RWPD_CONF_MAX_EVICT (1u << 3)
#define RWPD_CONF_REFAULT (1u << 4)

struct rwpd_policy_conf {
	unsigned int set;	  /* RWPD_CONF_* */
	uint32_t interval_ms;	  /* 1..RWPD_INTERVAL_MS_MAX */
	uint32_t min_idle;	  /* 1..RWPD_MIN_IDLE_MAX intervals */
	uint64_t target_resident; /* bytes; 0: no target */
	uint64_t max_evict;	  /* pages per interval; 0: unlimited */
	uint32_t refault_ppm;	  /* 0..RWPD_REFAULT_PPM_MAX; 0: no budget */
};

struct rwpd_guest_conf {
	char name[RWPD_NAME_LEN];
	struct rwpd_policy_conf policy; /* only what the section sets */
	unsigned int line;
};

/* A Firecracker handoff socket to listen on, and the snapshot memory file it restores. */
struct rwpd_fc_conf {
	char socket[RWPD_CONF_SOCK_MAX];
	char mem_file[RWPD_CONF_PATH_MAX];
	unsigned int line;
};

struct rwpd_config {
	char socket[RWPD_CONF_SOCK_MAX];
	char state_dir[RWPD_CONF_PATH_MAX];
	char ws_dir[RWPD_CONF_PATH_MAX];
	enum rwp_log_level log_level;
	unsigned int prefetch;	  /* evicted neighbours fetched with a fault, each way; 0: off */
	struct rwpd_policy_conf policy; /* every field set: defaults, then the file's */
	struct rwpd_tier_conf tiers[RWP_TIERS_MAX]; /* chain order, fastest first */
	unsigned int nr_tiers;
	struct rwpd_fc_conf fc[RWPD_CONF_MAX_FC];
	unsigned int nr_fc;
	struct rwpd_guest_conf guests[RWPD_CONF_MAX_GUESTS];
	unsigned int nr_guests;
};

/* The built-in defaults (what an empty file gives). */
void rwpd_config_defaults(struct rwpd_config *c);

/*
 * Parse len bytes of configuration into c (starting from the defaults). 0 or -EINVAL
 * with "line N: what is wrong" in err. Pure: no I/O, no allocation.
 */
int rwpd_config_parse(const char *buf, size_t len, struct rwpd_config *c, char *err,
		      size_t errlen);

/*
 * Read and parse a file; err gets "PATH: line N: ..." or "PATH: <reason>". -errno of the
 * I/O, -EFBIG over RWPD_CONF_FILE_MAX, -EINVAL for its contents, -ENOMEM.
 */
int rwpd_config_load(const char *path, struct rwpd_config *c, char *err, size_t errlen);

/* The guest section named name, or NULL. */
const struct rwpd_guest_conf *rwpd_config_guest(const struct rwpd_config *c,
						const char *name);

/* The policy of a guest: the global one with its section's overrides applied. */
void rwpd_config_policy(const struct rwpd_config *c, const char *guest,
			struct rwpd_policy_conf *out);

const char *rwpd_tier_kind_name(enum rwpd_tier_kind k);

#endif
