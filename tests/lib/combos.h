/* SPDX-License-Identifier: MIT */
/*
 * The (memory, backend) matrix the tracking case suites run over, and the runner that
 * names a case "mem/backend: case", honours -l (list) and -f (filter), skips with the
 * kernel's reason where the pair is unavailable, and runs it in its own process.
 */
#ifndef RWP_TEST_COMBOS_H
#define RWP_TEST_COMBOS_H

#include "guestmem.h"
#include "isolate.h"

#include <stdio.h>
#include <string.h>

struct combo {
	enum rwp_mem mem;
	enum rwp_backend backend;
};

/* MINOR faults do not exist on private anon memory: that pair is never a combination. */
static const struct combo combos[] = {
	{ RWP_MEM_SHMEM, RWP_BACKEND_NATIVE },	 { RWP_MEM_HUGETLB, RWP_BACKEND_NATIVE },
	{ RWP_MEM_ANON, RWP_BACKEND_NATIVE },	 { RWP_MEM_SHMEM, RWP_BACKEND_WP_ASYNC },
	{ RWP_MEM_HUGETLB, RWP_BACKEND_WP_ASYNC }, { RWP_MEM_ANON, RWP_BACKEND_WP_ASYNC },
	{ RWP_MEM_SHMEM, RWP_BACKEND_MINOR },	 { RWP_MEM_HUGETLB, RWP_BACKEND_MINOR },
};

/*
 * Map len bytes of mem for test `name` on backend b. If the kernel lacks the backend or
 * the machine the memory, the test is skipped with the reason, and false returned.
 */
static inline bool guestmem_map_or_skip(struct guestmem *g, enum rwp_mem mem,
					enum rwp_backend b, size_t len, const char *name)
{
	const char *why = NULL;

	if (!backend_available(b, mem, &why)) {
		tap_skip(name, "%s", why);
		return false;
	}
	if (guestmem_map(g, mem, len, &why)) {
		tap_skip(name, "%s", why ? why : "cannot map guest memory");
		return false;
	}
	return true;
}

struct combo_run {
	const char *filter; /* run only cases whose name contains it */
	bool list;	    /* print names instead of running */
	unsigned int timeout_s;
};

static inline void combo_run_case(const struct combo_run *r, const struct combo *cb,
				  const char *case_name, tap_case_fn fn, void *arg)
{
	const char *why;
	char name[160];

	snprintf(name, sizeof(name), "%s/%s: %s", rwp_mem_name(cb->mem),
		 rwp_backend_name(cb->backend), case_name);
	if (r->filter && !strstr(name, r->filter))
		return;
	if (r->list) {
		printf("%s\n", name);
		return;
	}
	if (!backend_available(cb->backend, cb->mem, &why)) {
		tap_skip(name, "%s", why);
		return;
	}
	tap_isolated(name, r->timeout_s, fn, arg);
}

#endif
