/* SPDX-License-Identifier: MIT */
/*
 * Guest programs built from vmm/guest/<name>.S (as --32, objcopy -O binary) and embedded
 * in the host binary. Each is flat, position-independent code entered at its first byte.
 */
#ifndef RWP_VMM_GUEST_H
#define RWP_VMM_GUEST_H

#include <stddef.h>

struct vmm_guest_image {
	const char *name;
	const unsigned char *code;
	size_t size;
};

/* guest/track.S: touches the pages a command block lists (layout in guest/track.h) */
extern const struct vmm_guest_image vmm_guest_track;

/* guest/phases.S: sweeps the pages its command block names (layout in guest/phases.h) */
extern const struct vmm_guest_image vmm_guest_phases;

#endif
