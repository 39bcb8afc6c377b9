/* SPDX-License-Identifier: MIT */
/* /proc/pid/maps reader: what backs a range of the managed process. */
#ifndef RWP_MAPS_H
#define RWP_MAPS_H

#include <stdbool.h>
#include <stdint.h>

struct rwp_vma {
	uintptr_t start, end;
	bool read, write, shared;
	uint64_t offset;
	uint64_t inode;
	char path[64]; /* truncated */
};

/* Parse one maps line; returns 0 or -EINVAL. Never reads past the NUL. */
int rwp_maps_parse_line(const char *line, struct rwp_vma *v);

/*
 * Call fn for every VMA of pid (0 = self) overlapping [start, end), in address order.
 * fn returns 0 to go on, anything else stops the walk and is returned.
 */
typedef int (*rwp_vma_fn)(void *arg, const struct rwp_vma *v);
int rwp_maps_walk(int pid, uintptr_t start, uintptr_t end, rwp_vma_fn fn, void *arg);

/* Is all of [start, end) mapped in pid (0 = self)? */
bool rwp_maps_covers(int pid, uintptr_t start, uintptr_t end);

#endif
