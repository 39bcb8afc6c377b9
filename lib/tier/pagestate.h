/* SPDX-License-Identifier: MIT */
/*
 * Where each page of an evictable region is: one 32-bit word per page.
 *
 *   31-30 kind: RESIDENT, ZERO (evicted, all zeros, no storage), STORED, BUSY
 *   29-27 tier index for STORED (PS_TIER_IMAGE: the region's read-only image file)
 *   26-0  slot in that tier
 *   RESIDENT uses bit 0 for "prefetched and not yet seen accessed".
 *
 * BUSY means a thread is moving the page (evicting, demoting, fetching); a fault on it
 * is held until the word changes. Transitions are compare-and-swap, so the evictor, the
 * fault thread and a replaying thread never move the same page at once. A BUSY word
 * keeps where the page came from, so that whoever opens the map after a crash can finish
 * the move: a STORED page's tier and slot, PS_TIER_WAS_ZERO, or PS_TIER_EVICTING with the
 * page's position in the eviction staging area.
 */
#ifndef RWP_PAGESTATE_H
#define RWP_PAGESTATE_H

#include <stdatomic.h>
#include <stdint.h>

typedef uint32_t ps_t;

enum { PS_RESIDENT = 0, PS_ZERO = 1, PS_STORED = 2, PS_BUSY = 3 };

#define PS_KIND_SHIFT 30
#define PS_TIER_SHIFT 27
#define PS_TIER_MASK 7u
#define PS_SLOT_MASK ((1u << PS_TIER_SHIFT) - 1)
#define PS_SLOT_MAX PS_SLOT_MASK
#define PS_TIER_IMAGE 7u
#define PS_TIER_WAS_ZERO 6u  /* BUSY only: claimed from ZERO */
#define PS_TIER_EVICTING 5u  /* BUSY only: claimed for eviction, slot = staging position */
#define PS_PREFETCHED 1u

static inline unsigned int ps_kind(ps_t s)
{
	return s >> PS_KIND_SHIFT;
}

static inline unsigned int ps_tier(ps_t s)
{
	return (s >> PS_TIER_SHIFT) & PS_TIER_MASK;
}

static inline uint32_t ps_slot(ps_t s)
{
	return s & PS_SLOT_MASK;
}

static inline ps_t ps_stored(unsigned int tier, uint32_t slot)
{
	return ((ps_t)PS_STORED << PS_KIND_SHIFT) | (tier << PS_TIER_SHIFT) | slot;
}

#define PS_ZERO_WORD ((ps_t)PS_ZERO << PS_KIND_SHIFT)
#define PS_BUSY_WORD ((ps_t)PS_BUSY << PS_KIND_SHIFT)

static inline ps_t ps_load(_Atomic ps_t *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}

static inline ps_t ps_busy(unsigned int tier, uint32_t slot)
{
	return ((ps_t)PS_BUSY << PS_KIND_SHIFT) | (tier << PS_TIER_SHIFT) | slot;
}

/* The BUSY word for a page claimed in state `from`. */
static inline ps_t ps_busy_from(ps_t from)
{
	switch (ps_kind(from)) {
	case PS_STORED:
		return ps_busy(ps_tier(from), ps_slot(from));
	case PS_ZERO:
		return ps_busy(PS_TIER_WAS_ZERO, 0);
	default:
		return ps_busy(PS_TIER_EVICTING, 0);
	}
}

/* Move a page from state `from` to BUSY; false if someone else changed it. */
static inline int ps_claim(_Atomic ps_t *p, ps_t from)
{
	return atomic_compare_exchange_strong_explicit(p, &from, ps_busy_from(from),
						       memory_order_acq_rel, memory_order_acquire);
}

static inline void ps_release(_Atomic ps_t *p, ps_t to)
{
	atomic_store_explicit(p, to, memory_order_release);
}

#endif
