/* SPDX-License-Identifier: MIT */
/*
 * The staging area: the one eviction batch in flight, in a state file. Each page's
 * progress is written down before the step it names, so that after a crash a successor
 * can finish the batch (rwp_ctx_recover()): a page whose data was captured is stored, one
 * still in the splice pipe is drained first, one never captured stays where it is.
 */
#ifndef RWP_STAGING_H
#define RWP_STAGING_H

#include <stdint.h>

#define STAGE_MAX 512
#define STAGE_DATA (16u << 10)		/* offset of the page data in the file */
#define STAGE_DATA_LEN (2u << 20)	/* one batch: 256 pages of 4 KiB or one huge page */
#define STAGE_MAGIC 0x3147545350575200ULL

enum stage_status {
	ST_FREE = 0,
	ST_CLAIMED,	/* chosen; nothing captured yet */
	ST_SPLICING,	/* being spliced into the pipe (may or may not be there) */
	ST_SPLICED,	/* in the pipe, in position order after the drained ones */
	ST_DRAINING,	/* being moved from the pipe to the staging data */
	ST_CAPTURED,	/* its data is at its position in the staging data */
	ST_STORED,	/* stored in tier[] at slot[] (or a zero page, tier 0xff) */
};

struct stage_hdr {
	uint64_t magic;
	int32_t region;	 /* index of the region the batch is from, -1: none */
	uint32_t n;	 /* entries in use */
	uint32_t pad[2];
	uint64_t pg[STAGE_MAX];
	uint8_t status[STAGE_MAX];
	uint8_t tier[STAGE_MAX];
	uint32_t slot[STAGE_MAX];
};

#define STAGE_ZERO_TIER 0xff

_Static_assert(sizeof(struct stage_hdr) <= STAGE_DATA, "staging header");

#endif
