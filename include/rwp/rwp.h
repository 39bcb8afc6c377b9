/* SPDX-License-Identifier: MIT */
/*
 * librwp: working-set tracking, eviction and on-demand fetch of VM guest memory over
 * userfaultfd, natively on Linux >= 7.3 (RWP) and by emulation on stock kernels.
 *
 * The data path, in the order a VMM drives it:
 *   register (core.h) -> track and scan (track.h) -> choose cold and evict (evict.h)
 *   to the tiers (tier.h) -> fetch back on demand (fetch.h); stats.h watches it all.
 * A VMM that hands its memory to the rwpd daemon instead uses client.h.
 */
#ifndef RWP_RWP_H
#define RWP_RWP_H

#include <rwp/core.h>
#include <rwp/track.h>
#include <rwp/tier.h>
#include <rwp/evict.h>
#include <rwp/fetch.h>
#include <rwp/stats.h>
#include <rwp/client.h>

#endif
