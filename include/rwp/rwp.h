/* SPDX-License-Identifier: MIT */
/*
 * librwp: working-set tracking, eviction and on-demand fetch of VM guest memory over
 * userfaultfd, natively on Linux >= 7.3 (RWP) and by emulation on stock kernels.
 *
 * The data path, in the order a VMM drives it:
 *   register (core.h) -> track, scan (track.h) -> choose cold, evict -> fetch back.
 */
#ifndef RWP_RWP_H
#define RWP_RWP_H

#include <rwp/core.h>
#include <rwp/track.h>

#endif
