/* SPDX-License-Identifier: MIT */
/*
 * Slot allocator for block-addressed tiers (file, NBD): a bitmap of 4 KiB units. A page of
 * n units (1, or 512 for a 2 MiB huge page) takes n units aligned to n. Allocation moves
 * forward from the last one, so a batch lands contiguously and can be written at once.
 */
#ifndef RWP_SLOTS_H
#define RWP_SLOTS_H

#include <stdint.h>
#include <stddef.h>

struct rwp_slots {
	uint64_t *map;
	uint64_t units;	    /* capacity */
	uint64_t limit;	    /* most units it may grow to */
	uint64_t used;
	uint64_t hint;	    /* where the next search starts */
};

/* limit: units available (0 = grow without bound). */
int rwp_slots_init(struct rwp_slots *s, uint64_t limit);
void rwp_slots_destroy(struct rwp_slots *s);
/* First unit of n free units aligned to n (n a power of two <= 512), or -ENOSPC/-ENOMEM. */
int64_t rwp_slots_alloc(struct rwp_slots *s, unsigned int n);
void rwp_slots_free(struct rwp_slots *s, uint64_t unit, unsigned int n);
/* Recovery: units [unit, unit + n) hold a page a predecessor stored; -ENOSPC past limit. */
int rwp_slots_mark(struct rwp_slots *s, uint64_t unit, unsigned int n);

#endif
