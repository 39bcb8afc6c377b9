/* SPDX-License-Identifier: MIT */
/* The command block of the track guest (track.S), as the host writes it. */
#ifndef RWP_VMM_GUEST_TRACK_H
#define RWP_VMM_GUEST_TRACK_H

#include <stdint.h>

/* Entry flag: store value at addr instead of reading it. Addresses are 4-byte aligned. */
#define TRACK_WRITE 1u

struct track_entry {
	uint32_t addr; /* guest physical, | TRACK_WRITE */
	uint32_t value;
};

struct track_cmd {
	uint32_t count;
	uint32_t reserved;
	struct track_entry entry[]; /* count of them */
};

/* Entries that fit when the block is one 4 KiB page. */
#define TRACK_MAX_ENTRIES ((4096 - sizeof(struct track_cmd)) / sizeof(struct track_entry))

#endif
