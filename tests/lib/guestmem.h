/* SPDX-License-Identifier: MIT */
/* Guest memory for tests: memfd shmem, hugetlbfs memfd, private anon; and test contexts. */
#ifndef RWP_TEST_GUESTMEM_H
#define RWP_TEST_GUESTMEM_H

#include <rwp/rwp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guestmem {
	enum rwp_mem mem;
	int fd; /* -1 for anon */
	uint8_t *base;
	size_t len;
	size_t page_size;
	size_t nr_pages;
};

/*
 * Map len bytes of mem. Returns 0, or -ENOMEM with *why set when the machine cannot
 * provide it (no free huge pages): the caller skips with that reason.
 */
int guestmem_map(struct guestmem *g, enum rwp_mem mem, size_t len, const char **why);
void guestmem_unmap(struct guestmem *g);
/* Write a stamp into every page. */
void guestmem_populate(struct guestmem *g);

/* Register the whole of g with ctx. */
int guestmem_register(struct rwp_ctx *ctx, struct guestmem *g, enum rwp_backend b,
		      unsigned int flags, struct rwp_region **out);

/*
 * Is backend b among those this run tests? RWP_TEST_BACKENDS (comma separated names)
 * narrows a run, e.g. to the native backend in the 7.3 VM; cases left out are not run.
 */
bool backend_selected(enum rwp_backend b);

/* Is backend b usable for mem here? If not, *why says what the kernel lacks. */
bool backend_available(enum rwp_backend b, enum rwp_mem mem, const char **why);

/* A context with a stderr logger (errors only unless RWP_TEST_VERBOSE=1). */
int test_ctx_new(unsigned int flags, struct rwp_ctx **out);

/* Size of the tracked region in the big tests: 1 GiB, or RWP_TEST_MB. */
size_t test_region_bytes(void);

/* Deterministic per-test random numbers. */
uint64_t test_rand(uint64_t *state);

#endif
