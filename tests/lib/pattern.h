/* SPDX-License-Identifier: MIT */
/*
 * Verifiable page contents: each 4 KiB page holds its page number, a version and a
 * checksum of the rest, so a page that comes back stale, zeroed or from the wrong place
 * is told apart from a good one.
 */
#ifndef RWP_TEST_PATTERN_H
#define RWP_TEST_PATTERN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct pattern_hdr {
	uint64_t page;
	uint64_t version;
	uint64_t sum;
};

static inline uint64_t pattern_word(uint64_t page, uint64_t version, uint64_t i)
{
	uint64_t x = (page * 0x9e3779b97f4a7c15ULL) ^ (version * 0xc2b2ae3d27d4eb4fULL) ^ i;

	x ^= x >> 29;
	return x * 0xbf58476d1ce4e5b9ULL;
}

/* Fill a 4 KiB page for (page, version). */
static inline void pattern_fill(void *p, uint64_t page, uint64_t version)
{
	uint64_t *w = p, sum = 0;

	for (uint64_t i = 3; i < 512; i++) {
		w[i] = pattern_word(page, version, i);
		sum += w[i];
	}
	w[0] = page;
	w[1] = version;
	w[2] = sum;
}

/* Is p a consistent page for `page`? Its version goes to *version. */
static inline bool pattern_check(const void *p, uint64_t page, uint64_t *version)
{
	const volatile uint64_t *w = p;
	uint64_t v = w[1], sum = 0;

	if (w[0] != page)
		return false;
	for (uint64_t i = 3; i < 512; i++) {
		if (w[i] != pattern_word(page, v, i))
			return false;
		sum += w[i];
	}
	if (version)
		*version = v;
	return sum == w[2];
}

#endif
