// SPDX-License-Identifier: MIT
#include "client-guest.h"
#include "pattern.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

static void log_client(void *arg, enum rwp_log_level lvl, const char *msg)
{
	bool quiet = arg != NULL;

	if (!quiet || lvl <= RWP_LOG_WARN || getenv("RWP_TEST_VERBOSE"))
		fprintf(stderr, "# client[%d]: %s\n", lvl, msg);
}

int client_guest_attach(const struct client_guest_opts *o, struct guestmem *g,
			uint32_t *version, struct rwp_client **out, const char **why)
{
	int ret = guestmem_map(g, RWP_MEM_SHMEM, o->bytes, why);

	if (ret)
		return ret;
	/* a forked child would see evicted pages as holes */
	madvise(g->base, g->len, MADV_DONTFORK);
	for (uint64_t s = 0; s < g->len / 4096; s++)
		pattern_fill(g->base + s * 4096, s, version[s] = 1);
	struct rwp_client_region reg = { .addr = g->base, .len = g->len, .mem = RWP_MEM_SHMEM,
					 .fd = g->fd };
	RWP_OPTS(rwp_client_opts, co, .socket = o->socket, .name = o->name, .regions = &reg,
		 .nr_regions = 1, .flags = RWP_CLIENT_EVICTABLE, .takeover_ms = o->takeover_ms,
		 .log = log_client, .log_arg = o->quiet ? (void *)1 : NULL);

	ret = rwp_client_attach(&co, out);
	if (ret)
		*why = "rwp_client_attach";
	return ret;
}

bool client_guest_intact(const struct guestmem *g, const uint32_t *version)
{
	for (uint64_t s = 0; s < g->len / 4096; s++) {
		uint64_t ver;

		if (!pattern_check(g->base + s * 4096, s, &ver) || ver != version[s])
			return false;
	}
	return true;
}

uint64_t client_guest_resident(const struct guestmem *g)
{
	struct stat st;

	return fstat(g->fd, &st) ? 0 : (uint64_t)st.st_blocks * 512;
}
