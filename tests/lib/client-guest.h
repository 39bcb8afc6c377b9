/* SPDX-License-Identifier: MIT */
/*
 * A guest of the daemon tests: shmem memory whose 4 KiB pages each carry a pattern and a
 * version (pattern.h), handed to rwpd with rwp_client_attach() as a VMM would.
 */
#ifndef RWP_TEST_CLIENT_GUEST_H
#define RWP_TEST_CLIENT_GUEST_H

#include "guestmem.h"

#include <rwp/client.h>
#include <stdbool.h>
#include <stdint.h>

struct client_guest_opts {
	const char *socket, *name;
	size_t bytes;
	unsigned int takeover_ms; /* 0: the client's default */
	bool quiet;		  /* the client's log: warnings and errors only */
};

/*
 * Map g, stamp every page with version 1 (into version[]), and attach it evictable.
 * Returns 0 or -errno; *why says what failed.
 */
int client_guest_attach(const struct client_guest_opts *o, struct guestmem *g,
			uint32_t *version, struct rwp_client **out, const char **why);

/* Does every page of g hold the version version[] says it must? */
bool client_guest_intact(const struct guestmem *g, const uint32_t *version);

/* Bytes of g's memfd in memory, as the kernel counts them. */
uint64_t client_guest_resident(const struct guestmem *g);

#endif
